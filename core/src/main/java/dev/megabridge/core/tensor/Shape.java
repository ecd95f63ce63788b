package dev.megabridge.core.tensor;

import java.util.Arrays;
import java.util.List;

/** An immutable tensor shape (row-major). Dimensions are non-negative. */
public final class Shape {
  private final long[] dims;

  private Shape(long[] dims) {
    for (long dim : dims) {
      if (dim < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
      }
    }
    this.dims = dims;
  }

  public static Shape of(long... dims) {
    return new Shape(dims.clone());
  }

  public static Shape of(List<Long> dims) {
    return new Shape(dims.stream().mapToLong(Long::longValue).toArray());
  }

  public int rank() {
    return dims.length;
  }

  public long dim(int axis) {
    return dims[axis];
  }

  public long[] toArray() {
    return dims.clone();
  }

  public List<Long> toList() {
    return Arrays.stream(dims).boxed().toList();
  }

  /** Number of elements; throws on overflow (a header claiming an absurd shape). */
  public long numel() {
    long numel = 1;
    for (long dim : dims) {
      numel = Math.multiplyExact(numel, dim);
    }
    return numel;
  }

  /** Row-major element strides. */
  public long[] contiguousStrides() {
    long[] strides = new long[dims.length];
    long stride = 1;
    for (int axis = dims.length - 1; axis >= 0; axis--) {
      strides[axis] = stride;
      stride *= dims[axis];
    }
    return strides;
  }

  /**
   * Advances {@code index}, a position over this shape's first {@code index.length} axes, to the next one in
   * row-major order; returns false (with {@code index} back at all zeros) after the last.
   */
  public boolean advance(long[] index) {
    for (int axis = index.length - 1; axis >= 0; axis--) {
      if (++index[axis] < dims[axis]) {
        return true;
      }
      index[axis] = 0;
    }
    return false;
  }

  public Shape withDim(int axis, long value) {
    long[] copy = dims.clone();
    copy[axis] = value;
    return new Shape(copy);
  }

  /** This shape without its first dimension. */
  public Shape dropFirst() {
    return new Shape(Arrays.copyOfRange(dims, 1, dims.length));
  }

  /** This shape with a new leading dimension. */
  public Shape prepend(long dim) {
    long[] copy = new long[dims.length + 1];
    copy[0] = dim;
    System.arraycopy(dims, 0, copy, 1, dims.length);
    return new Shape(copy);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Shape shape && Arrays.equals(dims, shape.dims);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return Arrays.toString(dims);
  }
}
