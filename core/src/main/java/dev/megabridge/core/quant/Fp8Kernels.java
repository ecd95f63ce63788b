package dev.megabridge.core.quant;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;

/**
 * Picks the FP8 kernel once (the vectorization-provider idiom): the Vector API one when the
 * {@code jdk.incubator.vector} module is readable, else the scalar one; {@code -Dmegabridge.ops=scalar} forces
 * the scalar kernel. The Vector API kernel is warmed up on one small block before it is handed out (see
 * {@link #warmUp}).
 */
final class Fp8Kernels {
  /** Longest the warm-up waits for the JIT before handing the kernel out anyway. */
  static final long WARM_UP_LIMIT_NANOS = 5_000_000_000L;
  /**
   * Calls in a row before the warm-up starts waiting between calls: enough to reach the JIT's compile thresholds
   * (measured: allocation-free after 10,200 to 10,300 calls, 0.8–1.0 s; with 5,000 the waiting calls had to reach
   * them, 2 s).
   */
  private static final int WARM_UP_BURST = 10_000;

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
      warmUp(vector, WARM_UP_LIMIT_NANOS);
      return vector;
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
   * vector operations each, then one call per millisecond waits for the compiled code: under 96 MB of garbage in
   * all, less than the young generation starts with, so it does not grow. Returns whether the kernel ran
   * allocation-free before the limit.
   */
  static boolean warmUp(Fp8Kernel kernel, long limitNanos) {
    if (!(ManagementFactory.getThreadMXBean() instanceof ThreadMXBean threads)
        || !threads.isThreadAllocatedMemorySupported() || !threads.isThreadAllocatedMemoryEnabled()) {
      return false;
    }
    WarmUpBlock block = new WarmUpBlock();
    long start = System.nanoTime();
    for (int call = 0; System.nanoTime() - start < limitNanos; call++) {
      long before = threads.getCurrentThreadAllocatedBytes();
      block.run(kernel);
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

  /**
   * A block of two rows of 131 columns (two vectors of any width up to 64 lanes and a scalar tail), with values from
   * subnormal to beyond the e4m3 range. Most calls quantize only its first row's first 17 columns (few operations,
   * little garbage); one in {@link #FULL_EVERY} the whole block, so that every loop repeats and every branch of the
   * kernel is seen taken while the JIT profiles it (a branch never taken there would be compiled as a trap back
   * into the interpreter).
   */
  private static final class WarmUpBlock {
    static final int ROWS = 2;
    static final int COLUMNS = 2 * 64 + 3;
    static final int SHORT_COLUMNS = 17;
    static final int FULL_EVERY = 64;
    final float[] values = new float[ROWS * COLUMNS];
    final byte[] codes = new byte[ROWS * COLUMNS];
    int calls;

    WarmUpBlock() {
      for (int index = 0; index < values.length; index++) {
        values[index] = (index % 2 == 0 ? 1 : -1) * (float) Math.scalb(1.0 + index / 64.0, index % 40 - 20);
      }
    }

    void run(Fp8Kernel kernel) {
      boolean full = calls++ % FULL_EVERY == 0;
      int rows = full ? ROWS : 1;
      int to = full ? COLUMNS : SHORT_COLUMNS;
      float scale = Fp8BlockQuantizer.scale(kernel.amax(values, rows, COLUMNS, 0, to));
      kernel.quantize(values, rows, COLUMNS, 0, to, scale, codes);
    }
  }
}
