package dev.megabridge.core.io.torchdist;

import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.io.torchdist.TorchDistWriter.ChunkData;
import dev.megabridge.core.io.torchdist.TorchDistWriter.TensorEntry;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Model-agnostic Megatron conventions for turning a global tensor into torch_dist keys and chunks, as a
 * TP=1/EP=1/PP=1 Megatron save writes them (docs/formats.md §3.9–§3.13). Which parameter takes which form
 * is a model decision made by the model's bridge; every chunk here is a lazy view of the input.
 */
public final class TorchDistChunks {
  private TorchDistChunks() {}

  /** A replicated (or TP=1) parameter: one chunk at the origin. */
  public static TensorEntry single(String key, Tensor tensor) {
    return TensorEntry.whole(key, tensor);
  }

  /**
   * A SwiGLU {@code linear_fc1} weight {@code [2F, …]} (rows {@code [0,F)} gate, {@code [F,2F)} up): two
   * chunks, as Megatron writes it even at TP=1 (docs/formats.md §3.12).
   */
  public static TensorEntry swigluFc1(String key, Tensor fc1) {
    long rows = fc1.shape().dim(0);
    if (rows % 2 != 0) {
      throw new InternalException("SwiGLU fc1 '" + key + "' has an odd row count " + rows);
    }
    return new TensorEntry(key, fc1.dtype(), fc1.shape(), List.of(
        new ChunkData(origin(fc1.shape().rank()), fc1.chunk(0, 2, 0)),
        new ChunkData(withFirst(fc1.shape().rank(), rows / 2), fc1.chunk(0, 2, 1))));
  }

  /**
   * Per-layer tensors of a homogeneous block stacked on a prepended axis: global {@code [L, …]}, one chunk
   * of shape {@code [1, …]} per layer at {@code (l, 0, …)} (docs/formats.md §3.10).
   */
  public static TensorEntry stackedLayers(String key, List<? extends Tensor> layers) {
    return stacked(key, layers, false);
  }

  /**
   * Expert tensors on a prepended expert axis: global {@code [E, …]}, one chunk per expert, or (SwiGLU fc1)
   * two chunks per expert at rows {@code 0} and {@code F} of the inner {@code [2F, …]} (docs/formats.md §3.11).
   */
  public static TensorEntry experts(String key, List<? extends Tensor> perExpert, boolean swigluHalves) {
    return stacked(key, perExpert, swigluHalves);
  }

  private static TensorEntry stacked(String key, List<? extends Tensor> parts, boolean swigluHalves) {
    if (parts.isEmpty()) {
      throw new InternalException("no tensors to stack for '" + key + "'");
    }
    Tensor first = parts.getFirst();
    Shape inner = first.shape();
    List<ChunkData> chunks = new ArrayList<>();
    for (int index = 0; index < parts.size(); index++) {
      Tensor part = parts.get(index);
      if (!part.shape().equals(inner) || part.dtype() != first.dtype()) {
        throw new InternalException("'" + key + "' part " + index + " is " + part.dtype() + part.shape()
            + ", part 0 is " + first.dtype() + inner);
      }
      Tensor stackedPart = part.unsqueeze0();
      if (swigluHalves) {
        long half = inner.dim(0) / 2;
        if (inner.dim(0) % 2 != 0) {
          throw new InternalException("SwiGLU '" + key + "' has an odd row count " + inner.dim(0));
        }
        List<Long> gate = withFirst(inner.rank() + 1, index);
        List<Long> up = new ArrayList<>(gate);
        up.set(1, half);
        chunks.add(new ChunkData(gate, stackedPart.slice(1, 0, half)));
        chunks.add(new ChunkData(up, stackedPart.slice(1, half, half)));
      } else {
        chunks.add(new ChunkData(withFirst(inner.rank() + 1, index), stackedPart));
      }
    }
    return new TensorEntry(key, first.dtype(), inner.prepend(parts.size()), chunks);
  }

  /**
   * A fused parameter stored as separate keys {@code <key>.<section>} (GDN {@code in_proj.weight} and
   * {@code conv1d.weight}, docs/formats.md §3.12): consecutive row blocks of axis 0 in the order of {@code rows}.
   */
  public static List<TensorEntry> sections(String key, Tensor fused, Map<String, Long> rows) {
    long total = rows.values().stream().mapToLong(Long::longValue).sum();
    if (total != fused.shape().dim(0)) {
      throw new InternalException("sections " + rows + " of '" + key + "' cover " + total + " rows of "
          + fused.shape());
    }
    List<TensorEntry> entries = new ArrayList<>();
    long start = 0;
    for (Map.Entry<String, Long> section : rows.entrySet()) {
      entries.add(single(key + "." + section.getKey(), fused.slice(0, start, section.getValue())));
      start += section.getValue();
    }
    return entries;
  }

  /**
   * A ShardedObject's key: {@code <key>/shard_<offsets joined by '.'>_<global shape joined by '.'>}
   * (docs/formats.md §3.13), e.g. {@code …linear_fc1._extra_state/shard_5.17_32.128}.
   */
  public static String shardedObjectKey(String key, long[] offsets, long[] globalShape) {
    if (offsets.length != globalShape.length || offsets.length == 0) {
      throw new InternalException("sharded object '" + key + "' offsets " + Arrays.toString(offsets)
          + " vs shape " + Arrays.toString(globalShape));
    }
    return key + "/shard_" + join(offsets) + "_" + join(globalShape);
  }

  /** {@code <module>._extra_state/shard_0_1}: the extra state of a module without layer/expert axes. */
  public static String extraStateKey(String module) {
    return shardedObjectKey(module + "._extra_state", new long[] {0}, new long[] {1});
  }

  private static String join(long[] values) {
    return Arrays.stream(values).mapToObj(Long::toString).collect(Collectors.joining("."));
  }

  private static List<Long> origin(int rank) {
    return Collections.nCopies(rank, 0L);
  }

  private static List<Long> withFirst(int rank, long first) {
    List<Long> offsets = new ArrayList<>(origin(rank));
    offsets.set(0, first);
    return List.copyOf(offsets);
  }
}
