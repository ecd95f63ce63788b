package dev.megabridge.core.mapping;

import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * The packed routed-expert mappings (docs/mappings.md §2.6): one HF tensor {@code [E, ...]} holds every expert;
 * a resolved instance carries one global expert id (the Megatron pattern's extra, last wildcard) and maps
 * {@code HF[expert]}. Export yields that expert's slice; the engine stacks all experts.
 */
sealed interface PackedExperts extends ParamMapping permits FusedGatedExpertMapping, FusedExpertMapping {

  /** The global expert id; -1 for an instance resolved from an HF name (which has no expert wildcard). */
  int expert();

  @Override
  default boolean isGroupedExport() {
    return true;
  }

  @Override
  default int extraMegatronWildcards() {
    return 1;
  }

  /**
   * The global expert id a forward match captured: the Megatron pattern's extra, last wildcard; -1 when
   * the captures came from an HF name (reverse lookup), which has no expert wildcard.
   */
  static int expertId(String megatronPattern, List<String> captures) {
    return captures.size() == NamePattern.countWildcards(megatronPattern) ? Integer.parseInt(captures.getLast()) : -1;
  }

  /** {@code HF[expert]} of the packed tensor {@code [E, ...]}. */
  static Tensor select(ParamMapping mapping, Map<String, Tensor> hf, int expert) {
    Tensor packed = ParamMapping.role(mapping, hf, ParamMapping.TENSOR);
    ParamMapping.requireRank(mapping, ParamMapping.TENSOR, packed, 3);
    if (expert < 0 || expert >= packed.shape().dim(0)) {
      throw new MappingException(mapping.megatronParam() + ": expert " + expert + " outside "
          + mapping.hfParams().get(ParamMapping.TENSOR) + " of shape " + packed.shape());
    }
    return packed.select(expert);
  }
}
