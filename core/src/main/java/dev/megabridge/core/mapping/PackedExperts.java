package dev.megabridge.core.mapping;

import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/** Shared rules of the packed-expert mappings (spec §3.11). */
final class PackedExperts {
  private PackedExperts() {}

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
