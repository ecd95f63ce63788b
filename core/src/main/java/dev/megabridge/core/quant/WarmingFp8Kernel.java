package dev.megabridge.core.quant;

/**
 * The scalar kernel until the Vector API kernel has been warmed up on a background thread ({@link Fp8Kernels#warmUp}),
 * then the Vector API kernel. Both give identical results ({@code Fp8KernelTest}), so what a caller gets does not
 * depend on when the switch happens; meanwhile quantization runs at the scalar kernel's speed instead of waiting for
 * the warm-up (0.8–1 s) or running the Vector API's allocating fallbacks.
 */
final class WarmingFp8Kernel implements Fp8Kernel {
  private final Fp8Kernel scalar = new ScalarFp8Kernel();
  private volatile Fp8Kernel current = scalar;

  /** Starts warming {@code vector} up on a daemon thread; switches to it once it runs allocation-free. */
  WarmingFp8Kernel(Fp8Kernel vector, long limitNanos) {
    Thread warmUp = new Thread(() -> {
      if (Fp8Kernels.warmUp(vector, limitNanos)) {
        current = vector;
      }
    }, "megabridge-fp8-warm-up");
    warmUp.setDaemon(true);
    warmUp.start();
  }

  /** The kernel calls go to now. */
  Fp8Kernel current() {
    return current;
  }

  @Override
  public float amax(float[] values, int rows, int columns, int from, int to) {
    return current.amax(values, rows, columns, from, to);
  }

  @Override
  public void quantize(float[] values, int rows, int columns, int from, int to, float scale, byte[] codes) {
    current.quantize(values, rows, columns, from, to, scale, codes);
  }
}
