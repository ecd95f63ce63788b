package dev.megabridge.core.mapping;

import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * A packed routed-expert projection (docs/mappings.md §2.6): one HF tensor {@code [E, ...]} holds every expert. A
 * resolved instance carries one global expert id (the Megatron pattern's extra, last wildcard) and maps
 * {@code HF[expert]} the way the dense projection of the same kind is mapped: {@link Projection#GATE_UP} with the
 * gated-MLP split over ETP, {@link Projection#DOWN} split along its input dimension. Export yields that expert's
 * slice; the engine stacks all experts ({@link #isGroupedExport()}).
 *
 * @param expert the global expert id; -1 for an instance resolved from an HF name (which has no expert wildcard)
 */
public record PackedExpertMapping(String megatronParam, Map<String, String> hfParams, Projection projection,
    int expert) implements ParamMapping {

  /** Which expert projection the packed tensor holds. */
  public enum Projection {
    /** {@code linear_fc1} from {@code gate_up_proj [E, 2·Ie, H]}: per expert {@code [gate (Ie); up (Ie)]}. */
    GATE_UP,
    /** {@code linear_fc2} from {@code down_proj [E, H, Ie]}: per expert {@code [H, Ie]}, row-parallel. */
    DOWN
  }

  public PackedExpertMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 1);
  }

  public PackedExpertMapping(String megatronParam, String hfParam, Projection projection) {
    this(megatronParam, ParamMapping.single(hfParam), projection, -1);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new PackedExpertMapping(megatron, hf, projection, expert);
  }

  /** Substitutes the captures and takes the expert id from the last one when the match was a Megatron name. */
  @Override
  public ParamMapping resolve(List<String> captures) {
    PackedExpertMapping resolved = (PackedExpertMapping) ParamMapping.super.resolve(captures);
    int expertId = captures.size() == NamePattern.countWildcards(megatronParam)
        ? Integer.parseInt(captures.getLast()) : -1;
    return new PackedExpertMapping(resolved.megatronParam(), resolved.hfParams(), projection, expertId);
  }

  @Override
  public boolean isGroupedExport() {
    return true;
  }

  @Override
  public int extraMegatronWildcards() {
    return 1;
  }

  /** The projection's name in mapping tables: {@code PackedExpertMapping(GATE_UP)}. */
  @Override
  public String kind() {
    return "PackedExpertMapping(" + projection + ")";
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor weight = expertOf(ParamMapping.role(this, hf, TENSOR));
    return switch (projection) {
      case GATE_UP -> {
        long rows = weight.shape().dim(0);
        if (rows % 2 != 0) {
          throw new ShapeMismatchException(hfParams.get(TENSOR) + ": dim 1 = " + rows
              + " is not 2·moe_intermediate_size");
        }
        yield GatedMlpMapping.splitGateUp(this, weight.slice(0, 0, rows / 2), weight.slice(0, rows / 2, rows / 2),
            splitSize, splitRank);
      }
      case DOWN -> {
        ParamMapping.requireDivisible(this, "dim 2 of " + hfParams.get(TENSOR), weight.shape().dim(1), splitSize);
        yield weight.chunk(1, splitSize, splitRank);
      }
    };
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    return switch (projection) {
      case GATE_UP -> {
        Map<String, Tensor> halves = GatedMlpMapping.gatherGateUp(this, shards);
        yield Map.of(TENSOR, Tensor.concat(0, List.of(halves.get(GatedMlpMapping.GATE),
            halves.get(GatedMlpMapping.UP))));
      }
      case DOWN -> {
        ParamMapping.requireShards(this, shards);
        yield Map.of(TENSOR, Tensor.concat(1, shards));
      }
    };
  }

  /** {@code packed[expert]} of the packed tensor {@code [E, ...]}. */
  private Tensor expertOf(Tensor packed) {
    ParamMapping.requireRank(this, TENSOR, packed, 3);
    if (expert < 0 || expert >= packed.shape().dim(0)) {
      throw new MappingException(megatronParam + ": expert " + expert + " outside " + hfParams.get(TENSOR)
          + " of shape " + packed.shape());
    }
    return packed.select(expert);
  }
}
