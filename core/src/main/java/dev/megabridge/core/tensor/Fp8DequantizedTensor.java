package dev.megabridge.core.tensor;

import dev.megabridge.core.io.ChecksummedReads;
import dev.megabridge.core.quant.Fp8BlockQuantizer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A blockwise FP8 weight read back as {@code dtype}: element {@code (.., i, j)} is
 * {@code float(codes[.., i, j]) * scales[.., i / blockRows, j / blockColumns]} in float32, rounded once to
 * {@code dtype} (docs/formats.md §5.3). A lazy view like the others: slicing keeps the offsets of the view inside
 * the full matrix, so a tensor-parallel cut finds the right scale for every element.
 *
 * @param codes the {@code F8_E4M3} weight (or a view of it)
 * @param scales the full block grid of every matrix in {@code codes} ({@code F32}, leading axes as {@code codes})
 * @param rowOffset row of the full matrix where this view's first row lies
 * @param columnOffset column of the full matrix where this view's first column lies
 */
public record Fp8DequantizedTensor(Tensor codes, Tensor scales, DType dtype, int blockRows, int blockColumns,
    long rowOffset, long columnOffset) implements Tensor {

  private static final int CHUNK_ELEMENTS = 1 << 14;

  public Fp8DequantizedTensor {
    int rank = codes.shape().rank();
    if (codes.dtype() != DType.F8_E4M3 || scales.dtype() != DType.F32 || rank < 2 || scales.shape().rank() != rank) {
      throw new IllegalArgumentException("FP8 weight " + codes.dtype() + codes.shape() + " with scales "
          + scales.dtype() + scales.shape());
    }
    if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16) {
      throw new IllegalArgumentException("cannot dequantize FP8 to " + dtype);
    }
  }

  /** The dequantized view of a whole FP8 weight; checks that the scale grid matches the weight's shape. */
  public static Fp8DequantizedTensor of(Tensor codes, Tensor scales, DType dtype, int blockRows, int blockColumns) {
    int rank = codes.shape().rank();
    Shape expected = codes.shape()
        .withDim(rank - 2, Fp8BlockQuantizer.blockCount(codes.shape().dim(rank - 2), blockRows))
        .withDim(rank - 1, Fp8BlockQuantizer.blockCount(codes.shape().dim(rank - 1), blockColumns));
    if (rank < 2 || !scales.shape().equals(expected)) {
      throw new IllegalArgumentException("scales " + scales.shape() + " do not match weight " + codes.shape()
          + " in blocks of " + blockRows + "x" + blockColumns + " (expected " + expected + ")");
    }
    return new Fp8DequantizedTensor(codes, scales, dtype, blockRows, blockColumns, 0, 0);
  }

  @Override
  public Shape shape() {
    return codes.shape();
  }

  @Override
  public Tensor slice(int axis, long start, long length) {
    int rank = codes.shape().rank();
    Tensor slicedCodes = codes.slice(axis, start, length);
    if (axis == rank - 2) {
      return new Fp8DequantizedTensor(slicedCodes, scales, dtype, blockRows, blockColumns, rowOffset + start,
          columnOffset);
    }
    if (axis == rank - 1) {
      return new Fp8DequantizedTensor(slicedCodes, scales, dtype, blockRows, blockColumns, rowOffset,
          columnOffset + start);
    }
    return new Fp8DequantizedTensor(slicedCodes, scales.slice(axis, start, length), dtype, blockRows, blockColumns,
        rowOffset, columnOffset);
  }

  @Override
  public Tensor select(long index) {
    if (codes.shape().rank() == 2) {
      // Selecting a row leaves a vector: resolve its scales now (one block row) and keep it as a 1 × n matrix view.
      return new Fp8DequantizedTensor(codes.slice(0, index, 1), scales, dtype, blockRows, blockColumns,
          rowOffset + index, columnOffset).materialize().select(0);
    }
    return new Fp8DequantizedTensor(codes.select(index), scales.select(index), dtype, blockRows, blockColumns,
        rowOffset, columnOffset);
  }

  @Override
  public Tensor unsqueeze0() {
    return new Fp8DequantizedTensor(codes.unsqueeze0(), scales.unsqueeze0(), dtype, blockRows, blockColumns,
        rowOffset, columnOffset);
  }

  @Override
  public void forEachRun(RunConsumer consumer) {
    int rank = codes.shape().rank();
    long viewRows = codes.shape().dim(rank - 2);
    long viewColumns = codes.shape().dim(rank - 1);
    int scaleRows = Math.toIntExact(scales.shape().dim(rank - 2));
    int scaleColumns = Math.toIntExact(scales.shape().dim(rank - 1));
    float[] scaleValues = scales.toFloatArray();
    int outSize = dtype.byteSize();
    MemorySegment scratch = MemorySegment.ofArray(new byte[CHUNK_ELEMENTS * outSize]);
    // Where the next element lies in the view: matrix, row, column, advanced element by element (no division).
    long[] at = {0, 0, 0};
    int[] filled = {0};
    codes.forEachRun((segment, offset, length, _) -> {
      ChecksummedReads.observe(segment, offset, length, segment.asSlice(offset, length));
      for (long position = 0; position < length; position++) {
        int scaleIndex = Math.toIntExact((at[0] * scaleRows + (at[1] + rowOffset) / blockRows) * scaleColumns
            + (at[2] + columnOffset) / blockColumns);
        float value = Fp8BlockQuantizer.dequantize(segment.get(ValueLayout.JAVA_BYTE,
            offset + position), scaleValues[scaleIndex]);
        write(scratch, (long) filled[0] * outSize, value);
        if (++filled[0] == CHUNK_ELEMENTS) {
          consumer.accept(scratch, 0, (long) CHUNK_ELEMENTS * outSize, null);
          filled[0] = 0;
        }
        if (++at[2] == viewColumns) {
          at[2] = 0;
          if (++at[1] == viewRows) {
            at[1] = 0;
            at[0]++;
          }
        }
      }
    });
    if (filled[0] > 0) {
      consumer.accept(scratch, 0, (long) filled[0] * outSize, null);
    }
  }

  private void write(MemorySegment segment, long offset, float value) {
    switch (dtype) {
      case F32 -> segment.set(StridedTensor.F32, offset, value);
      case BF16 -> segment.set(StridedTensor.I16, offset, DType.floatToBf16(value));
      case F16 -> segment.set(StridedTensor.I16, offset, DType.floatToF16(value));
      default -> throw new IllegalStateException("unreachable: " + dtype);
    }
  }
}
