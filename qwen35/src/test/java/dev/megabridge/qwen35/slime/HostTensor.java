package dev.megabridge.qwen35.slime;

import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * A row-major tensor held as little-endian bytes, with the few slicing operations the slime schema's closed
 * forms need, written here on raw bytes so that the expectations share no code with the mapping tables.
 */
record HostTensor(DType dtype, long[] shape, byte[] bytes) {

  HostTensor {
    long elements = Arrays.stream(shape).reduce(1, Math::multiplyExact);
    if (elements * dtype.byteSize() != bytes.length) {
      throw new IllegalArgumentException(Arrays.toString(shape) + " " + dtype + " needs " + elements * dtype.byteSize()
          + " bytes, got " + bytes.length);
    }
  }

  static HostTensor of(Tensor tensor) {
    return new HostTensor(tensor.dtype(), tensor.shape().toArray(), tensor.toByteArray());
  }

  /** Bytes of one index of axis 0 (a "row" of any rank). */
  private int rowBytes() {
    return Math.toIntExact(bytes.length / shape[0]);
  }

  /** Rows {@code [start, start + count)} of axis 0. */
  HostTensor rows(long start, long count) {
    if (start < 0 || count < 0 || start + count > shape[0]) {
      throw new IllegalArgumentException("rows [" + start + ", " + (start + count) + ") of " + Arrays.toString(shape));
    }
    long[] out = shape.clone();
    out[0] = count;
    int row = rowBytes();
    return new HostTensor(dtype, out, Arrays.copyOfRange(bytes, Math.toIntExact(start * row),
        Math.toIntExact((start + count) * row)));
  }

  /** Part {@code index} of {@code parts} equal parts of axis 0 ({@code chunk_r(X, parts, 0)}). */
  HostTensor rowChunk(int parts, int index) {
    if (shape[0] % parts != 0) {
      throw new IllegalArgumentException(Arrays.toString(shape) + " does not split into " + parts + " row parts");
    }
    long length = shape[0] / parts;
    return rows(index * length, length);
  }

  /** Part {@code index} of {@code parts} equal parts of axis 1 of a matrix ({@code chunk_r(X, parts, 1)}). */
  HostTensor columnChunk(int parts, int index) {
    if (shape.length != 2 || shape[1] % parts != 0) {
      throw new IllegalArgumentException(Arrays.toString(shape) + " does not split into " + parts + " column parts");
    }
    int width = Math.toIntExact(shape[1] / parts);
    int element = dtype.byteSize();
    int rowCount = Math.toIntExact(shape[0]);
    byte[] out = new byte[rowCount * width * element];
    for (int row = 0; row < rowCount; row++) {
      System.arraycopy(bytes, (int) ((row * shape[1] + (long) index * width) * element), out, row * width * element,
          width * element);
    }
    return new HostTensor(dtype, new long[] {shape[0], width}, out);
  }

  /** Index {@code index} of axis 0 with that axis removed ({@code X[index]}). */
  HostTensor select(long index) {
    HostTensor row = rows(index, 1);
    return new HostTensor(dtype, Arrays.copyOfRange(shape, 1, shape.length), row.bytes);
  }

  /** {@code rows} rows: these, then zero rows. */
  HostTensor zeroPadRows(long rows) {
    if (rows < shape[0]) {
      throw new IllegalArgumentException("cannot pad " + Arrays.toString(shape) + " to " + rows + " rows");
    }
    long[] out = shape.clone();
    out[0] = rows;
    return new HostTensor(dtype, out, Arrays.copyOf(bytes, Math.toIntExact(rows * rowBytes())));
  }

  /** Concatenation along axis 0. */
  static HostTensor concatRows(List<HostTensor> parts) {
    HostTensor first = parts.getFirst();
    long rows = 0;
    int size = 0;
    for (HostTensor part : parts) {
      if (part.dtype != first.dtype || !Arrays.equals(Arrays.copyOfRange(part.shape, 1, part.shape.length),
          Arrays.copyOfRange(first.shape, 1, first.shape.length))) {
        throw new IllegalArgumentException("cannot concatenate " + part + " to " + first);
      }
      rows += part.shape[0];
      size += part.bytes.length;
    }
    byte[] out = new byte[size];
    int position = 0;
    for (HostTensor part : parts) {
      System.arraycopy(part.bytes, 0, out, position, part.bytes.length);
      position += part.bytes.length;
    }
    long[] shape = first.shape.clone();
    shape[0] = rows;
    return new HostTensor(first.dtype, shape, out);
  }

  /** Every element plus {@code addend}, rounded once to the dtype (F32 and BF16 only). */
  HostTensor plus(float addend) {
    ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer out = ByteBuffer.allocate(bytes.length).order(ByteOrder.LITTLE_ENDIAN);
    switch (dtype) {
      case F32 -> {
        while (in.hasRemaining()) {
          out.putFloat(in.getFloat() + addend);
        }
      }
      case BF16 -> {
        while (in.hasRemaining()) {
          out.putShort(DType.floatToBf16(DType.bf16ToFloat(in.getShort()) + addend));
        }
      }
      default -> throw new IllegalArgumentException("plus on " + dtype);
    }
    return new HostTensor(dtype, shape, out.array());
  }

  boolean sameAs(HostTensor other) {
    return dtype == other.dtype && Arrays.equals(shape, other.shape) && Arrays.equals(bytes, other.bytes);
  }

  @Override
  public String toString() {
    return dtype + Arrays.toString(shape);
  }
}
