package dev.megabridge.core.quant;

import com.sun.management.ThreadMXBean;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;

/**
 * Picks the FP8 kernel once (the vectorization-provider idiom): the Vector API one when the
 * {@code jdk.incubator.vector} module is readable, else the scalar one; {@code -Dmegabridge.ops=scalar} forces
 * the scalar kernel. The Vector API kernel is handed out behind the scalar one until a background thread, started
 * once there is enough work to pay for it, has warmed it up on one small block ({@link #warmUp},
 * {@link WarmingFp8Kernel}); where the JVM cannot tell when that is done (no per-thread allocation counts), it is
 * handed out at once.
 */
final class Fp8Kernels {
  /**
   * Elements quantized with the scalar kernel before the Vector API kernel is warmed up: 2^24 (32 MiB of bf16
   * weights), more than the tiny fixtures hold (under 2 M) and a few ms of scalar work, far less than a real model.
   */
  static final long WARM_UP_AFTER_ELEMENTS = 1L << 24;
  /** Longest the warm-up waits for the JIT; a kernel not compiled by then is not switched to (the scalar one is faster). */
  static final long WARM_UP_LIMIT_NANOS = 5_000_000_000L;
  /**
   * Calls in a row before the warm-up starts waiting between calls: enough to reach the JIT's compile thresholds
   * with the calls that follow (measured: allocation-free after 0.7 s and 41 MB of garbage; a burst of 6,000 calls
   * took 1.1 s and 31 MB, one of 10,000 calls with every 64th full 0.8–1 s and 58 MB).
   */
  private static final int WARM_UP_BURST = 8_000;

  static final Fp8Kernel PREFERRED = choose();

  private Fp8Kernels() {}

  private static Fp8Kernel choose() {
    if ("scalar".equals(System.getProperty("megabridge.ops"))
        || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
      return new ScalarFp8Kernel();
    }
    try {
      Fp8Kernel vector = (Fp8Kernel) Class.forName("dev.megabridge.core.quant.VectorFp8Kernel")
          .getDeclaredConstructor().newInstance();
      if (!countsAllocation()) {
        return vector;
      }
      ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
      return new WarmingFp8Kernel(vector, WARM_UP_AFTER_ELEMENTS, WARM_UP_LIMIT_NANOS,
          threads::getCurrentThreadAllocatedBytes);
    } catch (ReflectiveOperationException | LinkageError e) {
      return new ScalarFp8Kernel();
    }
  }

  /**
   * Runs {@code kernel} on one small block until a call allocates nothing (or {@code limitNanos} have passed). Until
   * the JIT has compiled them, Vector API operations run as Java fallbacks that allocate an array and a vector
   * object per operation: an export that met the kernel cold on two threads made about 600 MB of garbage in its
   * first second, and the young generation grew by 200 MB to absorb it (issue 15: the FP8 export's peak RssAnon
   * 500 MiB against the plain export's 250 MiB). Here the compile thresholds are reached with calls of about 30
   * vector operations each, then one call per millisecond waits for the compiled code: about 41 MB of garbage in
   * all, less than half of what the young generation starts with. Returns whether the kernel ran allocation-free before
   * the limit.
   */
  static boolean warmUp(Fp8Kernel kernel, long limitNanos) {
    if (!countsAllocation()) {
      return false;
    }
    ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
    WarmUpBlock block = new WarmUpBlock(kernel);
    long start = System.nanoTime();
    for (int call = 0; System.nanoTime() - start < limitNanos; call++) {
      long before = threads.getCurrentThreadAllocatedBytes();
      try {
        block.run();
      } catch (Throwable e) {
        throw new IllegalStateException("the FP8 kernel failed on its warm-up block", e);
      }
      if (threads.getCurrentThreadAllocatedBytes() == before) {
        return true;
      }
      if (call >= WARM_UP_BURST) {
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    return false;
  }

  /** Whether this JVM counts the bytes each thread allocates (what tells {@link #warmUp} the kernel is compiled). */
  static boolean countsAllocation() {
    return ManagementFactory.getThreadMXBean() instanceof ThreadMXBean threads
        && threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled();
  }

  /**
   * A block of two rows of 131 columns (two vectors of any width up to 64 lanes and a scalar tail), with values from
   * subnormal to beyond the e4m3 range. Most calls quantize only its first row's first 17 columns (few operations,
   * little garbage); one in {@link #FULL_EVERY} the whole block, so that every loop repeats and every branch of the
   * kernel is seen taken while the JIT profiles it (a branch never taken there would be compiled as a trap back
   * into the interpreter). The kernel is called through method handles held in fields, which the JIT does not inline:
   * inlined into this class's compiled loop, the kernel's own methods would stop counting calls and never be
   * compiled themselves, and the quantizer's calls would still run them as fallbacks.
   */
  private static final class WarmUpBlock {
    static final int ROWS = 2;
    static final int COLUMNS = 2 * 64 + 3;
    static final int SHORT_COLUMNS = 17;
    static final int FULL_EVERY = 256;
    final float[] values = new float[ROWS * COLUMNS];
    final byte[] codes = new byte[ROWS * COLUMNS];
    final MethodHandle amax;
    final MethodHandle quantize;
    int calls;

    WarmUpBlock(Fp8Kernel kernel) {
      for (int index = 0; index < values.length; index++) {
        values[index] = (index % 2 == 0 ? 1 : -1) * (float) Math.scalb(1.0 + index / 64.0, index % 40 - 20);
      }
      try {
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        amax = lookup.findVirtual(Fp8Kernel.class, "amax",
            MethodType.methodType(float.class, float[].class, int.class, int.class, int.class, int.class))
            .bindTo(kernel);
        quantize = lookup.findVirtual(Fp8Kernel.class, "quantize", MethodType.methodType(void.class, float[].class,
            int.class, int.class, int.class, int.class, float.class, byte[].class)).bindTo(kernel);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("Fp8Kernel's methods cannot be looked up", e);
      }
    }

    void run() throws Throwable {
      boolean full = calls++ % FULL_EVERY == 0;
      int rows = full ? ROWS : 1;
      int to = full ? COLUMNS : SHORT_COLUMNS;
      float scale = Fp8BlockQuantizer.scale((float) amax.invokeExact(values, rows, COLUMNS, 0, to));
      quantize.invokeExact(values, rows, COLUMNS, 0, to, scale, codes);
    }
  }
}
