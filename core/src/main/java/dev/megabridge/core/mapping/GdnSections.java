package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.List;

/**
 * The {@code [Q | K | V]} channel blocks shared by the GDN {@code in_proj} and {@code conv1d} mappings
 * (spec §3.8): rank r takes the r-th contiguous part of each block, head-aligned.
 */
final class GdnSections {
  private GdnSections() {}

  /** {@code [Q_r, K_r, V_r]} of a tensor whose dim 0 starts with the Q, K and V blocks. */
  static List<Tensor> qkvParts(ParamMapping mapping, Tensor tensor, int numKeyHeads, int numValueHeads,
      int keyHeadDim, int valueHeadDim, int splitSize, int splitRank) {
    ParamMapping.requireDivisible(mapping, "linear_num_key_heads", numKeyHeads, splitSize);
    ParamMapping.requireDivisible(mapping, "linear_num_value_heads", numValueHeads, splitSize);
    long keyDim = (long) numKeyHeads * keyHeadDim;
    long keyPart = keyDim / splitSize;
    long valuePart = (long) numValueHeads * valueHeadDim / splitSize;
    return List.of(
        tensor.slice(0, splitRank * keyPart, keyPart),
        tensor.slice(0, keyDim + splitRank * keyPart, keyPart),
        tensor.slice(0, 2 * keyDim + splitRank * valuePart, valuePart));
  }
}
