package dev.megabridge.core.mapping;

import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Packed routed-expert {@code linear_fc1} (docs/mappings.md §2.6): HF
 * {@code gate_up_proj [E, 2Ie, H]} holds per expert {@code [gate (Ie); up (Ie)]}. A resolved instance carries
 * one global expert id (the Megatron pattern's extra, last wildcard); it takes {@code W = HF[expert]} and
 * applies the gated-MLP ETP split. Export yields that expert's {@code [2Ie, H]}; the engine stacks all experts.
 */
public record FusedGatedExpertMapping(String megatronParam, Map<String, String> hfParams, int expert)
    implements PackedExperts {

  public FusedGatedExpertMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 1);
  }

  public FusedGatedExpertMapping(String megatronParam, String hfParam) {
    this(megatronParam, ParamMapping.single(hfParam), -1);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new FusedGatedExpertMapping(megatron, hf, expert);
  }

  @Override
  public ParamMapping resolve(List<String> captures) {
    FusedGatedExpertMapping resolved = (FusedGatedExpertMapping) PackedExperts.super.resolve(captures);
    int expertId = PackedExperts.expertId(megatronParam, captures);
    return new FusedGatedExpertMapping(resolved.megatronParam(), resolved.hfParams(), expertId);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor weight = PackedExperts.select(this, hf, expert);
    long rows = weight.shape().dim(0);
    if (rows % 2 != 0) {
      throw new ShapeMismatchException(hfParams.get(TENSOR) + ": dim 1 = " + rows
          + " is not 2·moe_intermediate_size");
    }
    return GatedMlpMapping.splitGateUp(this, weight.slice(0, 0, rows / 2), weight.slice(0, rows / 2, rows / 2),
        splitSize, splitRank);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    Map<String, Tensor> halves = GatedMlpMapping.gatherGateUp(this, shards);
    return Map.of(TENSOR, Tensor.concat(0, List.of(halves.get(GatedMlpMapping.GATE), halves.get(GatedMlpMapping.UP))));
  }
}
