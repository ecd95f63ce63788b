package dev.megabridge.core.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The Vector API kernel against the scalar one on the same blocks: random bit patterns of every magnitude (NaN
 * and infinities included), values around every e4m3 code and midpoint, and blocks whose width is not a multiple
 * of the vector length. Skips only when {@code jdk.incubator.vector} is not readable (surefire always adds it).
 */
class Fp8KernelTest {

  @Test
  void vectorKernelEqualsScalarKernel() {
    assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), "no jdk.incubator.vector module");
    Fp8Kernel vector = new VectorFp8Kernel();
    Fp8Kernel scalar = new ScalarFp8Kernel();
    SplittableRandom random = new SplittableRandom(17);
    int rows = 7;
    int columns = 301;
    for (int trial = 0; trial < 400; trial++) {
      float[] values = new float[rows * columns];
      for (int index = 0; index < values.length; index++) {
        values[index] = switch (trial % 4) {
          case 0 -> Float.intBitsToFloat(random.nextInt());
          case 1 -> (float) random.nextGaussian();
          case 2 -> {
            float code = Fp8E4m3.toFloat((byte) random.nextInt(0x7F));
            float next = Fp8E4m3.toFloat((byte) Math.min(0x7E, (code < 0 ? 0 : 1) + random.nextInt(0x7E)));
            yield (random.nextBoolean() ? 1 : -1) * (random.nextBoolean() ? code : (code + next) / 2);
          }
          default -> (float) (random.nextGaussian() * Math.pow(2, random.nextInt(-40, 40)));
        };
      }
      int from = random.nextInt(0, 64);
      int to = random.nextInt(from + 1, columns + 1);
      float vectorAmax = vector.amax(values, rows, columns, from, to);
      float scalarAmax = scalar.amax(values, rows, columns, from, to);
      assertThat(Float.floatToIntBits(vectorAmax)).as("amax, trial %d", trial)
          .isEqualTo(Float.floatToIntBits(scalarAmax));
      // trial % 4 == 2 quantizes with scale 1, so the values are their own quotients (ties included).
      float scale = trial % 4 == 2 ? 1f : Fp8BlockQuantizer.scale(scalarAmax);
      byte[] vectorCodes = new byte[values.length];
      byte[] scalarCodes = new byte[values.length];
      vector.quantize(values, rows, columns, from, to, scale, vectorCodes);
      scalar.quantize(values, rows, columns, from, to, scale, scalarCodes);
      assertThat(vectorCodes).as("codes, trial %d", trial).isEqualTo(scalarCodes);
    }
  }

  /**
   * Issue 15: a cold Vector API kernel runs as allocating Java fallbacks (hundreds of MB in an export's first second);
   * {@link Fp8Kernels#warmUp} returns once a call on its block allocates nothing.
   */
  @Test
  void warmUpEndsWithAnAllocationFreeCall() {
    assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), "no jdk.incubator.vector module");
    assumeTrue(Fp8Kernels.countsAllocation(), "this JVM does not count allocated bytes per thread");
    // A generous limit: the JIT's compile threads share the CPUs with other tests.
    assertThat(Fp8Kernels.warmUp(new VectorFp8Kernel(), 60_000_000_000L)).as("allocation-free within 60 s").isTrue();
  }

  /**
   * Issue 15: the preferred kernel quantizes with the scalar kernel, starts warming the vector kernel up only after
   * the given number of elements (a tiny export never pays for it), then switches to it; the codes are the scalar
   * kernel's before, during and after the switch.
   */
  @Test
  void warmingKernelSwitchesToTheVectorKernelOnlyAfterEnoughWork() throws InterruptedException {
    assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), "no jdk.incubator.vector module");
    assumeTrue(Fp8Kernels.countsAllocation(), "this JVM does not count allocated bytes per thread");
    VectorFp8Kernel vector = new VectorFp8Kernel();
    ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
    WarmingFp8Kernel warming = new WarmingFp8Kernel(vector, 10 * 128 * 128, 60_000_000_000L,
        threads::getCurrentThreadAllocatedBytes);
    ScalarFp8Kernel scalar = new ScalarFp8Kernel();
    int columns = 512;
    float[] band = new float[128 * columns];
    SplittableRandom random = new SplittableRandom(5);
    for (int index = 0; index < band.length; index++) {
      band[index] = (float) (random.nextGaussian() * Math.pow(2, random.nextInt(-20, 20)));
    }
    byte[] expected = new byte[band.length];
    float[] expectedScales = new float[columns / 128];
    new Fp8BlockQuantizer(128, 128, scalar).quantizeBand(band, 128, columns, expected, expectedScales);
    Fp8BlockQuantizer quantizer = new Fp8BlockQuantizer(128, 128, warming);
    byte[] codes = new byte[band.length];
    float[] scales = new float[columns / 128];
    quantizer.quantizeBand(band, 128, columns, codes, scales);
    quantizer.quantizeBand(band, 128, columns, codes, scales);
    assertThat(warming.warmUpsStarted()).as("warm-ups started after 8 of 10 blocks").isZero();
    assertThat(warming.current()).isInstanceOf(ScalarFp8Kernel.class);
    long deadline = System.nanoTime() + 60_000_000_000L;
    do {
      quantizer.quantizeBand(band, 128, columns, codes, scales);
      assertThat(codes).isEqualTo(expected);
      assertThat(scales).isEqualTo(expectedScales);
      Thread.sleep(10);
    } while (warming.current() != vector && System.nanoTime() < deadline);
    assertThat(warming.warmUpsStarted()).isPositive();
    assertThat(warming.current()).as("switched to the vector kernel within 60 s").isSameAs(vector);
    quantizer.quantizeBand(band, 128, columns, codes, scales);
    assertThat(codes).isEqualTo(expected);
    assertThat(scales).isEqualTo(expectedScales);
  }

  /**
   * A vector call that allocates (the JIT dropped the compiled kernel) switches back to the scalar kernel and, after
   * the element count again, to a new warm-up; after {@link WarmingFp8Kernel#WARM_UPS} warm-ups the scalar kernel
   * stays. The allocation counter is simulated: every read after the first switch reports 1 KiB more.
   */
  @Test
  void warmingKernelFallsBackToScalarWhenTheVectorKernelAllocates() throws InterruptedException {
    assumeTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), "no jdk.incubator.vector module");
    assumeTrue(Fp8Kernels.countsAllocation(), "this JVM does not count allocated bytes per thread");
    VectorFp8Kernel vector = new VectorFp8Kernel();
    long[] simulated = {0};
    WarmingFp8Kernel warming = new WarmingFp8Kernel(vector, 128 * 128, 60_000_000_000L, () -> simulated[0] += 1024);
    ScalarFp8Kernel scalar = new ScalarFp8Kernel();
    float[] block = new float[128 * 128];
    SplittableRandom random = new SplittableRandom(6);
    for (int index = 0; index < block.length; index++) {
      block[index] = (float) random.nextGaussian();
    }
    byte[] expected = new byte[block.length];
    float scale = Fp8BlockQuantizer.scale(scalar.amax(block, 128, 128, 0, 128));
    scalar.quantize(block, 128, 128, 0, 128, scale, expected);
    byte[] codes = new byte[block.length];
    long deadline = System.nanoTime() + 60_000_000_000L;
    for (int warmUp = 1; warmUp <= WarmingFp8Kernel.WARM_UPS; warmUp++) {
      while (warming.current() != vector && System.nanoTime() < deadline) {
        warming.quantize(block, 128, 128, 0, 128, scale, codes);
        assertThat(codes).isEqualTo(expected);
        Thread.sleep(5);
      }
      assertThat(warming.current()).as("switched to the vector kernel by warm-up %d", warmUp).isSameAs(vector);
      assertThat(warming.warmUpsStarted()).isEqualTo(warmUp);
      // The counter moved during the call: the vector kernel is taken to allocate.
      assertThat(warming.amax(block, 128, 128, 0, 128)).isEqualTo(scalar.amax(block, 128, 128, 0, 128));
      assertThat(warming.current()).as("back to the scalar kernel after warm-up %d", warmUp).isNotSameAs(vector);
    }
    for (int call = 0; call < 20; call++) {
      warming.quantize(block, 128, 128, 0, 128, scale, codes);
      assertThat(codes).isEqualTo(expected);
      Thread.sleep(5);
    }
    assertThat(warming.current()).as("no warm-up after the last").isInstanceOf(ScalarFp8Kernel.class);
    assertThat(warming.warmUpsStarted()).isEqualTo(WarmingFp8Kernel.WARM_UPS);
  }
}
