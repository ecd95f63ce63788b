package dev.megabridge.core.tensor;

import dev.megabridge.core.io.ChecksummedReads;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;

/**
 * A lazy, immutable tensor: a strided view over memory (usually a memory-mapped file), a concatenation of
 * tensors, an element-wise conversion of another tensor, or the blockwise FP8 codes, scales or dequantized values
 * of one. Nothing is copied until the bytes are streamed
 * with {@link #forEachRun} or materialised with {@link #toSegment}; slicing, selecting and concatenating
 * only build views. This is what lets a conversion move a checkpoint at copy speed in bounded memory.
 */
public sealed interface Tensor
    permits StridedTensor, ConcatTensor, ConvertedTensor, Fp8CodesTensor, Fp8ScalesTensor, Fp8DequantizedTensor {

  DType dtype();

  Shape shape();

  default long numel() {
    return shape().numel();
  }

  default long byteSize() {
    return numel() * dtype().byteSize();
  }

  /** The sub-tensor {@code [start, start + length)} along {@code axis}; a view, never a copy. */
  Tensor slice(int axis, long start, long length);

  /** The sub-tensor at {@code index} of axis 0, with that axis removed. */
  Tensor select(long index);

  /** This tensor with a new leading axis of size 1. */
  Tensor unsqueeze0();

  /**
   * Streams the tensor's bytes in row-major order as contiguous runs of an underlying segment, each with the file
   * it was mapped from, if any. The runs handed out are only valid during the callback.
   */
  void forEachRun(RunConsumer consumer);

  /** The {@code r}-th of {@code n} equal parts along {@code axis} (torch.chunk with exact division). */
  default Tensor chunk(int axis, int parts, int index) {
    long dim = shape().dim(axis);
    if (parts <= 0 || dim % parts != 0) {
      throw new IllegalArgumentException(
          "dimension " + axis + " of size " + dim + " does not split into " + parts + " equal parts");
    }
    long length = dim / parts;
    return slice(axis, index * length, length);
  }

  /** Element-wise conversion to {@code target}, adding {@code addend} in fp32 before rounding once. */
  default Tensor convert(DType target, float addend) {
    if (target == dtype() && addend == 0f) {
      return this;
    }
    return new ConvertedTensor(this, target, addend);
  }

  default Tensor convert(DType target) {
    return convert(target, 0f);
  }

  /** Copies the bytes into a new contiguous segment owned by {@code arena}. */
  default MemorySegment toSegment(Arena arena) {
    MemorySegment out = arena.allocate(Math.max(1, byteSize()), 8).asSlice(0, byteSize());
    copyInto(out);
    return out;
  }

  /** Copies the bytes into a new heap array. */
  default byte[] toByteArray() {
    long size = byteSize();
    if (size > Integer.MAX_VALUE - 16) {
      throw new IllegalStateException("tensor of " + size + " bytes does not fit a byte array");
    }
    byte[] out = new byte[(int) size];
    copyInto(MemorySegment.ofArray(out));
    return out;
  }

  /** Streams the bytes into {@code target} (exactly {@link #byteSize()} long); each run read is CRC-checked. */
  private void copyInto(MemorySegment target) {
    long[] position = {0};
    forEachRun((segment, offset, length, _) -> {
      MemorySegment.copy(segment, offset, target, position[0], length);
      ChecksummedReads.observe(segment, offset, length, target.asSlice(position[0], length));
      position[0] += length;
    });
  }

  /** A contiguous, heap-backed copy of this tensor. */
  default StridedTensor materialize() {
    return StridedTensor.contiguous(dtype(), shape(), MemorySegment.ofArray(toByteArray()));
  }

  /** All elements converted to fp32 (floating dtypes, and integers through their value). */
  default float[] toFloatArray() {
    StridedTensor dense = this instanceof StridedTensor strided && strided.isContiguous()
        ? strided : materialize();
    long count = numel();
    float[] out = new float[Math.toIntExact(count)];
    for (int index = 0; index < out.length; index++) {
      out[index] = dense.getFloat(index);
    }
    return out;
  }

  /** Concatenation along {@code axis}; all parts share dtype and all other dimensions. */
  static Tensor concat(int axis, List<? extends Tensor> parts) {
    if (parts.size() == 1) {
      return parts.getFirst();
    }
    return ConcatTensor.of(axis, List.copyOf(parts));
  }

  /** Stacks equally shaped tensors along a new axis 0. */
  static Tensor stack(List<? extends Tensor> parts) {
    return ConcatTensor.of(0, parts.stream().map(Tensor::unsqueeze0).toList());
  }

  static StridedTensor of(DType dtype, Shape shape, MemorySegment data) {
    return StridedTensor.contiguous(dtype, shape, data);
  }

  static StridedTensor ofFloats(Shape shape, float... values) {
    MemorySegment segment = MemorySegment.ofArray(new byte[values.length * 4]);
    for (int index = 0; index < values.length; index++) {
      segment.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, index, values[index]);
    }
    return StridedTensor.contiguous(DType.F32, shape, segment);
  }

  /** Byte-wise equality of dtype, shape and contents. */
  static boolean contentEquals(Tensor left, Tensor right) {
    if (left.dtype() != right.dtype() || !left.shape().equals(right.shape())) {
      return false;
    }
    return Arrays.equals(left.toByteArray(), right.toByteArray());
  }

  /** Receives one contiguous run of bytes. */
  @FunctionalInterface
  interface RunConsumer {
    /**
     * The run {@code [byteOffset, byteOffset + byteLength)} of {@code segment}; {@code origin} says where
     * {@code segment} lies on disk when it is a mapped file's bytes (the run then also lies at file offset
     * {@code origin.fileOffset() + byteOffset}), else it is null.
     */
    void accept(MemorySegment segment, long byteOffset, long byteLength, FileOrigin origin);
  }
}
