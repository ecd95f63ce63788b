package dev.megabridge.core.quant;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The scalar kernel until the Vector API kernel has been warmed up on a background thread ({@link Fp8Kernels#warmUp}),
 * then the Vector API kernel. Both give identical results ({@code Fp8KernelTest}), so what a caller gets does not
 * depend on when the switch happens; meanwhile quantization runs at the scalar kernel's speed instead of waiting for
 * the warm-up (about 0.7 s) or running the Vector API's allocating fallbacks. The warm-up starts only once
 * {@code warmUpAfterElements} elements have been quantized: it costs a few tenths of a second of one CPU, about
 * 40 MB of garbage and 17 MiB of JIT memory (issue 15), which a small export (the tiny fixtures: a few MB) would pay
 * for nothing.
 *
 * <p>Invariant: a call to the Vector API kernel that allocates (the JIT dropped its compiled code, e.g. after a
 * deoptimization, and its fallbacks run again: up to 1 MB of garbage per 128 × 128 block) switches back to the scalar
 * kernel and starts a new warm-up, at most {@link #WARM_UPS} warm-ups in all; so the garbage stays bounded whatever
 * the JIT does. Checking costs two reads of the thread's allocation counter per block.
 */
final class WarmingFp8Kernel implements Fp8Kernel {
  static final int WARM_UPS = 3;

  private final Fp8Kernel scalar = new ScalarFp8Kernel();
  private final Fp8Kernel vector;
  private final long warmUpAfterElements;
  private final long limitNanos;
  private final LongSupplier allocatedBytes;
  private final AtomicLong elementsBeforeWarmUp;
  private final AtomicBoolean warmingUp = new AtomicBoolean();
  private final AtomicInteger warmUpsLeft = new AtomicInteger(WARM_UPS);
  private volatile Fp8Kernel current = scalar;

  /**
   * @param allocatedBytes the current thread's allocated bytes so far (what tells an allocating call)
   */
  WarmingFp8Kernel(Fp8Kernel vector, long warmUpAfterElements, long limitNanos, LongSupplier allocatedBytes) {
    this.vector = vector;
    this.warmUpAfterElements = warmUpAfterElements;
    this.limitNanos = limitNanos;
    this.allocatedBytes = allocatedBytes;
    this.elementsBeforeWarmUp = new AtomicLong(warmUpAfterElements);
  }

  /** The kernel calls go to now. */
  Fp8Kernel current() {
    return current;
  }

  /** Warm-ups started so far. */
  int warmUpsStarted() {
    return Math.min(WARM_UPS, WARM_UPS - warmUpsLeft.get());
  }

  @Override
  public float amax(float[] values, int rows, int columns, int from, int to) {
    Fp8Kernel kernel = current;
    if (kernel == scalar) {
      return scalar.amax(values, rows, columns, from, to);
    }
    long before = allocatedBytes.getAsLong();
    float amax = kernel.amax(values, rows, columns, from, to);
    requireAllocationFree(before);
    return amax;
  }

  @Override
  public void quantize(float[] values, int rows, int columns, int from, int to, float scale, byte[] codes) {
    Fp8Kernel kernel = current;
    if (kernel == scalar) {
      scalar.quantize(values, rows, columns, from, to, scale, codes);
      if (elementsBeforeWarmUp.addAndGet(-(long) rows * (to - from)) < 0) {
        startWarmUp();
      }
      return;
    }
    long before = allocatedBytes.getAsLong();
    kernel.quantize(values, rows, columns, from, to, scale, codes);
    requireAllocationFree(before);
  }

  /**
   * Back to the scalar kernel (and to counting elements before a new warm-up) if the call since {@code before}
   * allocated.
   */
  private void requireAllocationFree(long before) {
    if (allocatedBytes.getAsLong() != before && current == vector) {
      current = scalar;
      elementsBeforeWarmUp.set(warmUpAfterElements);
    }
  }

  /** Starts warming the vector kernel up on a daemon thread unless one runs or none are left. */
  private void startWarmUp() {
    if (!warmingUp.compareAndSet(false, true)) {
      return;
    }
    if (warmUpsLeft.getAndDecrement() <= 0) {
      // Stays marked as warming up: no more warm-ups, the scalar kernel for good.
      return;
    }
    Thread warmUp = new Thread(() -> {
      try {
        if (Fp8Kernels.warmUp(vector, limitNanos)) {
          current = vector;
        }
      } finally {
        warmingUp.set(false);
      }
    }, "megabridge-fp8-warm-up");
    warmUp.setDaemon(true);
    warmUp.start();
  }
}
