package dev.megabridge.core.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A view of elements of a segment at arbitrary (non-negative) element strides: zero copy. Element
 * {@code (i0, …, ik)} lives at byte {@code byteOffset + (i0·s0 + … + ik·sk) · dtype.byteSize()} of {@code base}.
 * The constructor does not require the view to lie inside {@code base} (shape-only placeholders over
 * {@link MemorySegment#NULL} are legal); reading a view that does not fit fails in the segment access.
 *
 * <p>{@code origin} says where {@code base} lies on disk when it is a memory-mapped file's bytes, else it is null;
 * every view taken from this one keeps it, and {@link #forEachRun} hands it out with each run.
 */
public record StridedTensor(MemorySegment base, long byteOffset, DType dtype, Shape shape, long[] strides,
    FileOrigin origin) implements Tensor {

  static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  public StridedTensor {
    if (strides.length != shape.rank()) {
      throw new IllegalArgumentException("strides " + strides.length + " vs rank " + shape.rank());
    }
    if (byteOffset < 0) {
      throw new IllegalArgumentException("negative byte offset " + byteOffset);
    }
    strides = strides.clone();
    for (long stride : strides) {
      if (stride < 0) {
        throw new IllegalArgumentException("negative stride in " + Arrays.toString(strides));
      }
    }
  }

  /** A view of memory that is not a file's mapping. */
  public StridedTensor(MemorySegment base, long byteOffset, DType dtype, Shape shape, long[] strides) {
    this(base, byteOffset, dtype, shape, strides, null);
  }

  /** A dense row-major tensor over the whole of {@code data}, whose size must match exactly. */
  public static StridedTensor contiguous(DType dtype, Shape shape, MemorySegment data) {
    long expected = shape.numel() * dtype.byteSize();
    if (data.byteSize() != expected) {
      throw new IllegalArgumentException(
          "segment of " + data.byteSize() + " bytes for " + dtype + shape + " (" + expected + " bytes)");
    }
    return new StridedTensor(data, 0, dtype, shape, shape.contiguousStrides());
  }

  /** This view, its base being the bytes of a mapped file that start at {@code baseOrigin}. */
  public StridedTensor withOrigin(FileOrigin baseOrigin) {
    return new StridedTensor(base, byteOffset, dtype, shape, strides, baseOrigin);
  }

  @Override
  public long[] strides() {
    return strides.clone();
  }

  public boolean isContiguous() {
    return Arrays.equals(strides, shape.contiguousStrides());
  }

  /** The bytes of a contiguous tensor as a segment slice (zero copy). */
  public MemorySegment contiguousSegment() {
    if (!isContiguous()) {
      throw new IllegalStateException("tensor is not contiguous");
    }
    return base.asSlice(byteOffset, byteSize());
  }

  @Override
  public Tensor slice(int axis, long start, long length) {
    checkRange(axis, start, length);
    return new StridedTensor(base, byteOffset + start * strides[axis] * dtype.byteSize(), dtype,
        shape.withDim(axis, length), strides, origin);
  }

  /** The sub-tensor at index 0 of the axes before {@code firstAxis}: this view's trailing axes. */
  StridedTensor trailingAxes(int firstAxis) {
    return new StridedTensor(base, byteOffset, dtype, Shape.of(Arrays.copyOfRange(shape.toArray(), firstAxis,
        shape.rank())), Arrays.copyOfRange(strides, firstAxis, strides.length), origin);
  }

  /** Bytes between consecutive indices of {@code axis}. */
  long byteStride(int axis) {
    return strides[axis] * dtype.byteSize();
  }

  @Override
  public StridedTensor select(long index) {
    checkRange(0, index, 1);
    long[] rest = Arrays.copyOfRange(strides, 1, strides.length);
    return new StridedTensor(base, byteOffset + index * strides[0] * dtype.byteSize(), dtype,
        shape.dropFirst(), rest, origin);
  }

  @Override
  public Tensor unsqueeze0() {
    long[] withLeading = new long[strides.length + 1];
    withLeading[0] = shape.numel();
    System.arraycopy(strides, 0, withLeading, 1, strides.length);
    return new StridedTensor(base, byteOffset, dtype, shape.prepend(1), withLeading, origin);
  }

  @Override
  public void forEachRun(RunConsumer consumer) {
    forEachRun(0, consumer);
  }

  /**
   * The runs of the same-shaped view {@code extraByteOffset} bytes further into {@code base}, without building it;
   * the caller guarantees that view lies inside {@code base}.
   */
  void forEachRun(long extraByteOffset, RunConsumer consumer) {
    int rank = shape.rank();
    long elementSize = dtype.byteSize();
    if (shape.numel() == 0) {
      return;
    }
    // Find the longest suffix of axes that is laid out contiguously: one run covers it.
    int firstContiguousAxis = rank;
    long runElements = 1;
    while (firstContiguousAxis > 0) {
      int axis = firstContiguousAxis - 1;
      if (shape.dim(axis) != 1 && strides[axis] != runElements) {
        break;
      }
      runElements *= shape.dim(axis);
      firstContiguousAxis = axis;
    }
    long runBytes = runElements * elementSize;
    if (firstContiguousAxis == 0) {
      consumer.accept(base, byteOffset + extraByteOffset, runBytes, origin);
      return;
    }
    long[] index = new long[firstContiguousAxis];
    do {
      long offset = byteOffset + extraByteOffset;
      for (int axis = 0; axis < firstContiguousAxis; axis++) {
        offset += index[axis] * strides[axis] * elementSize;
      }
      consumer.accept(base, offset, runBytes, origin);
    } while (shape.advance(index));
  }

  /** Element {@code flatIndex} (row-major) as fp32. */
  public float getFloat(long flatIndex) {
    long offset = elementByteOffset(flatIndex);
    return switch (dtype) {
      case F32 -> base.get(F32, offset);
      case BF16 -> DType.bf16ToFloat(base.get(I16, offset));
      case F16 -> DType.f16ToFloat(base.get(I16, offset));
      case F64 -> (float) base.get(F64, offset);
      case I64 -> base.get(I64, offset);
      case I32 -> base.get(I32, offset);
      case I16 -> base.get(I16, offset);
      case I8 -> base.get(ValueLayout.JAVA_BYTE, offset);
      case U8, BOOL -> base.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
      case F8_E4M3, F8_E5M2 -> throw new UnsupportedOperationException("fp8 element access");
    };
  }

  /** Element {@code flatIndex} (row-major) as a long (integer dtypes). */
  public long getLong(long flatIndex) {
    long offset = elementByteOffset(flatIndex);
    return switch (dtype) {
      case I64 -> base.get(I64, offset);
      case I32 -> base.get(I32, offset);
      case I16 -> base.get(I16, offset);
      case I8 -> base.get(ValueLayout.JAVA_BYTE, offset);
      case U8, BOOL -> base.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
      default -> (long) getFloat(flatIndex);
    };
  }

  /** Byte position in {@link #base()} of element {@code flatIndex} (row-major order of this view). */
  public long elementByteOffset(long flatIndex) {
    if (flatIndex < 0 || flatIndex >= shape.numel()) {
      throw new IndexOutOfBoundsException("element " + flatIndex + " of shape " + shape);
    }
    return byteOffset + elementOffset(flatIndex) * dtype.byteSize();
  }

  private long elementOffset(long flatIndex) {
    long remaining = flatIndex;
    long offset = 0;
    for (int axis = shape.rank() - 1; axis >= 0; axis--) {
      long dim = shape.dim(axis);
      offset += (remaining % dim) * strides[axis];
      remaining /= dim;
    }
    return offset;
  }

  private void checkRange(int axis, long start, long length) {
    // Written as "length > dim - start" so that a huge start or length cannot overflow past the check.
    if (axis < 0 || axis >= shape.rank() || start < 0 || length < 0 || start > shape.dim(axis)
        || length > shape.dim(axis) - start) {
      throw new IndexOutOfBoundsException(
          "slice [" + start + ", " + (start + length) + ") of axis " + axis + " of shape " + shape);
    }
  }

  @Override
  public boolean equals(Object other) {
    return this == other;
  }

  @Override
  public int hashCode() {
    return System.identityHashCode(this);
  }

  @Override
  public String toString() {
    return "StridedTensor[" + dtype + shape + "]";
  }
}
