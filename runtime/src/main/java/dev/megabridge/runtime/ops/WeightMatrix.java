package dev.megabridge.runtime.ops;

import dev.megabridge.core.error.UnsupportedModelException;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * A row-major {@code [rows, columns]} weight matrix over a segment of F32 or BF16 elements (usually a zero-copy
 * view of a memory-mapped checkpoint). Element {@code (row, column)} lives at byte
 * {@code (row * columns + column) * dtype.byteSize()} of {@code data}. Other dtypes are widened to F32 once at load.
 */
public record WeightMatrix(MemorySegment data, DType dtype, int rows, int columns) {

  public WeightMatrix {
    if (dtype != DType.F32 && dtype != DType.BF16) {
      throw new IllegalArgumentException("weight matrices hold F32 or BF16, not " + dtype);
    }
    long expected = (long) rows * columns * dtype.byteSize();
    if (data.byteSize() != expected) {
      throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes for a " + dtype + " [" + rows
          + ", " + columns + "] matrix (" + expected + " bytes)");
    }
  }

  /**
   * Views {@code tensor} as a matrix whose first axis is the rows and all remaining axes flattened into columns
   * (a Conv3d kernel {@code [out, c, t, p, p]} becomes {@code [out, c·t·p·p]}). Zero copy for contiguous F32/BF16
   * views; anything else is materialised.
   */
  public static WeightMatrix of(Tensor tensor) {
    long rows = tensor.shape().rank() == 1 ? 1 : tensor.shape().dim(0);
    long columns = rows == 0 ? 0 : tensor.numel() / rows;
    Tensor usable = switch (tensor.dtype()) {
      case F32, BF16 -> tensor;
      case F16, F64 -> tensor.convert(DType.F32);
      default -> throw new UnsupportedModelException("weight of dtype " + tensor.dtype() + " cannot be computed with");
    };
    StridedTensor dense = usable instanceof StridedTensor strided && strided.isContiguous()
        ? strided : usable.materialize();
    return new WeightMatrix(dense.contiguousSegment(), dense.dtype(), Math.toIntExact(rows),
        Math.toIntExact(columns));
  }

  /** Rows {@code [start, start + count)} as a matrix: zero copy. */
  public WeightMatrix rowRange(int start, int count) {
    long rowBytes = (long) columns * dtype.byteSize();
    return new WeightMatrix(data.asSlice(start * rowBytes, count * rowBytes), dtype, count, columns);
  }

  /** Byte offset of element {@code (row, 0)}. */
  public long rowOffset(int row) {
    return (long) row * columns * dtype.byteSize();
  }

  public long byteSize() {
    return data.byteSize();
  }

  /** Element {@code (row, column)} as fp32 (exact for BF16). */
  public float get(int row, int column) {
    long offset = rowOffset(row) + (long) column * dtype.byteSize();
    return dtype == DType.F32 ? data.get(KernelOps.F32, offset) : DType.bf16ToFloat(data.get(KernelOps.BF16, offset));
  }

  /** Row {@code row} widened to fp32 into {@code out[offset ..]}. */
  public void copyRow(int row, float[] out, int offset) {
    long base = rowOffset(row);
    if (dtype == DType.F32) {
      MemorySegment.copy(data, KernelOps.F32, base, out, offset, columns);
    } else {
      for (int column = 0; column < columns; column++) {
        out[offset + column] = DType.bf16ToFloat(data.get(KernelOps.BF16, base + 2L * column));
      }
    }
  }
}
