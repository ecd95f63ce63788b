package dev.megabridge.runtime.ops;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The compute kernels of the runtime. Two implementations: {@link ScalarKernelOps} (portable oracle) and
 * {@link VectorKernelOps} (Vector API); {@link Kernels#preferred()} picks one. Every kernel is a pure function of
 * its arguments and uses one fixed summation order per implementation, so results never depend on how callers
 * split work over threads.
 */
public interface KernelOps {

  ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** A short name for logs and benchmark reports. */
  String name();

  /**
   * Dot products of weight row {@code row} with {@code tokens} input rows:
   * {@code out[outOffset + t·outStride] = Σ_i weight[row, i] · x[xOffset + t·xStride + i]} for t in [0, tokens).
   * The value for one token does not depend on {@code tokens} (blocking never changes the arithmetic).
   */
  default void dotRows(WeightMatrix weight, int row, float[] x, int xOffset, int xStride, int tokens,
      float[] out, int outOffset, int outStride) {
    dotRowWindow(weight, row, 0, weight.columns(), x, xOffset, xStride, tokens, out, outOffset, outStride);
  }

  /**
   * {@link #dotRows} over the column window {@code [columnStart, columnStart + length)} of weight row {@code row}:
   * {@code out[outOffset + t·outStride] = Σ_{i < length} weight[row, columnStart + i] · x[xOffset + t·xStride + i]}.
   * The arithmetic depends only on {@code length} and the values, never on {@code columnStart} or the matrix width:
   * a window of a wide matrix gives bit for bit what a matrix holding only those columns gives (this is what makes
   * a dense row-kind layer and its tensor-parallel shards agree exactly, see {@link Linear.RowParallel}).
   * {@link #dotRows} is the window {@code [0, columns)}.
   */
  void dotRowWindow(WeightMatrix weight, int row, int columnStart, int length, float[] x, int xOffset, int xStride,
      int tokens, float[] out, int outOffset, int outStride);

  /**
   * {@link #dotRowWindow} for every weight row {@code r} in {@code [rowStart, rowEnd)}: the value of row {@code r}
   * and token {@code t} goes to {@code out[outOffset + (r − rowStart)·outRowStride + t·outStride]}. Each value equals
   * bit for bit what {@link #dotRowWindow} gives for that row and token: implementations may block rows and tokens
   * together (a prefill is a matrix × matrix product) but never change one dot product's arithmetic.
   */
  default void dotRowBlock(WeightMatrix weight, int rowStart, int rowEnd, int columnStart, int length, float[] x,
      int xOffset, int xStride, int tokens, float[] out, int outOffset, int outRowStride, int outStride) {
    for (int row = rowStart; row < rowEnd; row++) {
      dotRowWindow(weight, row, columnStart, length, x, xOffset, xStride, tokens, out,
          outOffset + (row - rowStart) * outRowStride, outStride);
    }
  }

  /**
   * Matrix-vector product over the weight rows {@code [rowStart, rowEnd)}:
   * {@code out[outOffset + r − rowStart] = Σ_i weight[r, i] · x[xOffset + i]}. Each value equals what
   * {@link #dotRows} computes for that row and a single token.
   */
  void matvec(WeightMatrix weight, int rowStart, int rowEnd, float[] x, int xOffset, float[] out, int outOffset);

  /** {@code Σ_i a[aOffset + i] · b[bOffset + i]}. */
  float dot(float[] a, int aOffset, float[] b, int bOffset, int length);

  /** {@code y[yOffset + i] += alpha · x[xOffset + i]}. */
  void axpy(float alpha, float[] x, int xOffset, float[] y, int yOffset, int length);

  /** {@code x[offset + i] *= factor}. */
  void scale(float[] x, int offset, int length, float factor);
}
