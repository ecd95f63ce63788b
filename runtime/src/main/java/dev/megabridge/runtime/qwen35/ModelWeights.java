package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.runtime.ops.Linear;
import dev.megabridge.runtime.ops.WeightMatrix;
import java.util.List;

/**
 * The weights a model computes with, addressed by their canonical Hugging Face names
 * ({@code model.language_model.layers.0.self_attn.q_proj.weight}, {@code model.visual.…}, {@code mtp.…},
 * {@code lm_head.weight}).
 *
 * <p>{@link #linear} is the tensor-parallel seam: a source backed by Megatron shards overrides it to return
 * {@link Linear.ColumnParallel} / {@link Linear.RowParallel} layers built from each rank's shard, so every linear
 * layer is computed from the shards without gathering them.
 */
public interface ModelWeights {

  boolean contains(String name);

  /** A lazy (ideally zero-copy) view of the tensor; throws if absent. */
  Tensor tensor(String name);

  /** The weights whose layers reduce in the canonical row-parallel order (docs/model.md §9.4). */
  RowKinds rowKinds();

  /**
   * The single-rank layer of HF weight {@code name}: row-kind layers reduce in the canonical order of
   * {@link Linear.RowParallel} (so they match any tensor-parallel split bit for bit), the rest are dense.
   */
  default Linear singleRank(String name, WeightMatrix weight) {
    return rowKinds().contains(name) ? Linear.rowReduced(weight) : Linear.dense(weight);
  }

  /** The linear layer whose HF weight is {@code name} ({@code [out, in]}). */
  default Linear linear(String name) {
    return singleRank(name, WeightMatrix.of(tensor(name)));
  }

  /**
   * Expert {@code expert}'s slice of a packed routed-expert tensor ({@code experts.gate_up_proj [E, 2I, H]} or
   * {@code experts.down_proj [E, H, I]}) as a linear layer.
   */
  default Linear packedExpert(String name, int expert) {
    return singleRank(name, WeightMatrix.of(tensor(name).select(expert)));
  }

  /** A small tensor (norm weight, bias, per-head parameter) widened to fp32. */
  default float[] floats(String name) {
    return tensor(name).toFloatArray();
  }

  default Tensor require(String name) {
    if (!contains(name)) {
      throw new CheckpointFormatException("missing tensor " + name);
    }
    return tensor(name);
  }
}
