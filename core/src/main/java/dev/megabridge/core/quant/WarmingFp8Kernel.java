package dev.megabridge.core.quant;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The scalar kernel until the Vector API kernel has been warmed up on a background thread ({@link Fp8Kernels#warmUp}),
 * then the Vector API kernel. Both give identical results ({@code Fp8KernelTest}), so what a caller gets does not
 * depend on when the switch happens; meanwhile quantization runs at the scalar kernel's speed instead of waiting for
 * the warm-up (about 0.7 s) or running the Vector API's allocating fallbacks. The warm-up starts only once
 * {@code warmUpAfterElements} elements have been quantized: it costs a few tenths of a second of one CPU, about
 * 40 MB of garbage and 17 MiB of JIT memory (issue 15), which a small export (the tiny fixtures: a few MB) would pay
 * for nothing.
 */
final class WarmingFp8Kernel implements Fp8Kernel {
  private final Fp8Kernel scalar = new ScalarFp8Kernel();
  private final Fp8Kernel vector;
  private final long limitNanos;
  private final AtomicLong elementsBeforeWarmUp;
  private final AtomicBoolean warmUpStarted = new AtomicBoolean();
  private volatile Fp8Kernel current = scalar;

  WarmingFp8Kernel(Fp8Kernel vector, long warmUpAfterElements, long limitNanos) {
    this.vector = vector;
    this.limitNanos = limitNanos;
    this.elementsBeforeWarmUp = new AtomicLong(warmUpAfterElements);
  }

  /** The kernel calls go to now. */
  Fp8Kernel current() {
    return current;
  }

  /** Whether the background warm-up has been started. */
  boolean warmUpStarted() {
    return warmUpStarted.get();
  }

  @Override
  public float amax(float[] values, int rows, int columns, int from, int to) {
    return current.amax(values, rows, columns, from, to);
  }

  @Override
  public void quantize(float[] values, int rows, int columns, int from, int to, float scale, byte[] codes) {
    Fp8Kernel kernel = current;
    kernel.quantize(values, rows, columns, from, to, scale, codes);
    if (kernel == scalar && elementsBeforeWarmUp.addAndGet(-(long) rows * (to - from)) < 0) {
      startWarmUp();
    }
  }

  /** Starts warming the vector kernel up on a daemon thread (once); switches to it once it runs allocation-free. */
  private void startWarmUp() {
    if (!warmUpStarted.compareAndSet(false, true)) {
      return;
    }
    Thread warmUp = new Thread(() -> {
      if (Fp8Kernels.warmUp(vector, limitNanos)) {
        current = vector;
      }
    }, "megabridge-fp8-warm-up");
    warmUp.setDaemon(true);
    warmUp.start();
  }
}
