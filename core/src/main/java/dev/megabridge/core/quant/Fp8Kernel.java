package dev.megabridge.core.quant;

/**
 * The inner loops of blockwise FP8 quantization over one block of a band (rows × the columns {@code [from, to)}
 * of a row-major array with {@code columns} columns). Implementations must give identical results: the scalar
 * one is the definition, the Vector API one is checked against it ({@code Fp8KernelTest}).
 */
public sealed interface Fp8Kernel permits ScalarFp8Kernel, VectorFp8Kernel, WarmingFp8Kernel {

  /** The largest magnitude in the block (NaN if it holds a NaN). */
  float amax(float[] values, int rows, int columns, int from, int to);

  /** {@code codes[i] = e4m3(clamp(values[i] / scale, -448, 448))} over the block. */
  void quantize(float[] values, int rows, int columns, int from, int to, float scale, byte[] codes);

  /**
   * The Vector API kernel when {@code jdk.incubator.vector} is readable (behind the scalar one until it is warmed up:
   * {@link WarmingFp8Kernel}), else the scalar one.
   */
  static Fp8Kernel preferred() {
    return Fp8Kernels.PREFERRED;
  }
}
