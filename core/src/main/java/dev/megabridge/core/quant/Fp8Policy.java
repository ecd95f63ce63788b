package dev.megabridge.core.quant;

import java.util.List;
import java.util.Optional;

/**
 * A model family's FP8 rule set: which HF weights are stored in blockwise FP8, and along which axis an inference
 * engine splits each of them for tensor parallelism. One rule set serves export, stream-export and the TP check.
 */
public interface Fp8Policy {

  /** How an inference engine cuts a weight for tensor parallelism. */
  enum TensorParallelAxis {
    /** Column-parallel: the output axis (rows of {@code [out, in]}) is split. */
    OUTPUT,
    /** Row-parallel: the input axis (columns) is split. */
    INPUT
  }

  /** Whether the HF tensor {@code hfName} is quantized (a 2-D linear weight, or packed experts, of the rule set). */
  boolean quantizes(String hfName);

  /** The axis split for tensor parallelism, empty for a replicated weight; only asked of quantized weights. */
  Optional<TensorParallelAxis> tensorParallelAxis(String hfName);

  /** Whether {@code hfName} is a routed expert's weight (split by the expert tensor-parallel size). */
  boolean isExpert(String hfName);

  /**
   * The sections of the split axis that an engine splits separately (each into TP slices), in order: the whole
   * axis for a plain linear, the gate and up halves of a fused {@code gate_up_proj}, q / k / v of a fused
   * projection.
   */
  default List<Long> splitSections(String hfName, long axisLength) {
    return List.of(axisLength);
  }
}
