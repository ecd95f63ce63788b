package dev.megabridge.runtime.ops;

import dev.megabridge.core.tensor.DType;
import java.lang.foreign.MemorySegment;

/** Portable kernels: plain loops with fused multiply-add; the oracle of the differential tests. */
public final class ScalarKernelOps implements KernelOps {

  @Override
  public String name() {
    return "scalar";
  }

  @Override
  public void dotRowWindow(WeightMatrix weight, int row, int columnStart, int length, float[] x, int xOffset,
      int xStride, int tokens, float[] out, int outOffset, int outStride) {
    MemorySegment data = weight.data();
    long base = weight.rowOffset(row) + (long) columnStart * weight.dtype().byteSize();
    boolean bf16 = weight.dtype() == DType.BF16;
    for (int token = 0; token < tokens; token++) {
      int start = xOffset + token * xStride;
      float sum = 0f;
      for (int column = 0; column < length; column++) {
        float value = bf16 ? DType.bf16ToFloat(data.get(BF16, base + 2L * column))
            : data.get(F32, base + 4L * column);
        sum = Math.fma(value, x[start + column], sum);
      }
      out[outOffset + token * outStride] = sum;
    }
  }

  @Override
  public void matvec(WeightMatrix weight, int rowStart, int rowEnd, float[] x, int xOffset, float[] out,
      int outOffset) {
    for (int row = rowStart; row < rowEnd; row++) {
      dotRows(weight, row, x, xOffset, 0, 1, out, outOffset + row - rowStart, 0);
    }
  }

  @Override
  public float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
    float sum = 0f;
    for (int i = 0; i < length; i++) {
      sum = Math.fma(a[aOffset + i], b[bOffset + i], sum);
    }
    return sum;
  }

  @Override
  public void axpy(float alpha, float[] x, int xOffset, float[] y, int yOffset, int length) {
    for (int i = 0; i < length; i++) {
      y[yOffset + i] = Math.fma(alpha, x[xOffset + i], y[yOffset + i]);
    }
  }

  @Override
  public void scale(float[] x, int offset, int length, float factor) {
    for (int i = 0; i < length; i++) {
      x[offset + i] *= factor;
    }
  }
}
