package dev.megabridge.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.management.ThreadMXBean;
import dev.megabridge.core.quant.Fp8BlockQuantizer;
import dev.megabridge.core.quant.Fp8E4m3;
import dev.megabridge.core.quant.ScalarFp8Kernel;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The lazy FP8 views: codes and scales of a packed-expert tensor, and dequantized views cut like weights are. */
class Fp8TensorTest {
  private static final Fp8BlockQuantizer BLOCKS = new Fp8BlockQuantizer(16, 32);

  private static Tensor randomBf16(SplittableRandom random, long... dims) {
    Shape shape = Shape.of(dims);
    float[] values = new float[Math.toIntExact(shape.numel())];
    for (int index = 0; index < values.length; index++) {
      values[index] = (float) (random.nextGaussian() * (1 + (index % 7)));
    }
    return Tensor.ofFloats(shape, values).convert(DType.BF16).materialize();
  }

  @Test
  void codesAndScalesFollowTheBlocksOfEachExpert() {
    Tensor weight = randomBf16(new SplittableRandom(1), 3, 40, 70);
    Fp8BlockQuantized quantized = new Fp8BlockQuantized(weight, BLOCKS);
    assertThat(quantized.codes().shape()).isEqualTo(weight.shape());
    assertThat(quantized.codes().dtype()).isEqualTo(DType.F8_E4M3);
    assertThat(quantized.scales().shape()).isEqualTo(Shape.of(3, 3, 3));
    byte[] codes = quantized.codes().toByteArray();
    float[] scales = quantized.scales().toFloatArray();
    float[] values = weight.toFloatArray();
    for (int expert = 0; expert < 3; expert++) {
      for (int row = 0; row < 40; row++) {
        for (int column = 0; column < 70; column++) {
          int flat = (expert * 40 + row) * 70 + column;
          // The block's scale is its largest magnitude over 448.
          float amax = 0f;
          for (int r = row / 16 * 16; r < Math.min(40, row / 16 * 16 + 16); r++) {
            for (int c = column / 32 * 32; c < Math.min(70, column / 32 * 32 + 32); c++) {
              amax = Math.max(amax, Math.abs(values[(expert * 40 + r) * 70 + c]));
            }
          }
          float scale = scales[(expert * 3 + row / 16) * 3 + column / 32];
          assertThat(scale).isEqualTo(amax / 448f);
          assertThat(codes[flat]).isEqualTo(Fp8E4m3.fromFloat(values[flat] / scale));
        }
      }
    }
  }

  @Test
  void scalesReadBeforeOrAfterTheCodesAreTheSame() {
    Tensor weight = randomBf16(new SplittableRandom(2), 2, 33, 65);
    float[] first = new Fp8BlockQuantized(weight, BLOCKS).scales().toFloatArray();
    Fp8BlockQuantized streamed = new Fp8BlockQuantized(weight, BLOCKS);
    streamed.codes().toByteArray();
    assertThat(streamed.scales().toFloatArray()).containsExactly(first);
  }

  @Test
  void selectingAnExpertQuantizesItAlone() {
    Tensor weight = randomBf16(new SplittableRandom(3), 4, 20, 40);
    Fp8BlockQuantized quantized = new Fp8BlockQuantized(weight, BLOCKS);
    Tensor expert = quantized.codes().select(2);
    Tensor alone = new Fp8BlockQuantized(weight.select(2), BLOCKS).codes();
    assertThat(expert.toByteArray()).isEqualTo(alone.toByteArray());
    assertThat(quantized.scales().select(2).toFloatArray())
        .containsExactly(new Fp8BlockQuantized(weight.select(2), BLOCKS).scales().toFloatArray());
    assertThatThrownBy(() -> quantized.codes().slice(1, 0, 8)).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void dequantizedViewsCutLikeTheFullMatrix() {
    Tensor weight = randomBf16(new SplittableRandom(4), 2, 50, 90);
    Fp8BlockQuantized quantized = new Fp8BlockQuantized(weight, BLOCKS);
    Tensor codes = StridedTensor.contiguous(DType.F8_E4M3, weight.shape(),
        MemorySegment.ofArray(quantized.codes().toByteArray()));
    Tensor scales = quantized.scales().materialize();
    Fp8DequantizedTensor full = Fp8DequantizedTensor.of(codes, scales, DType.F32, 16, 32);
    float[] all = full.toFloatArray();
    byte[] codeBytes = codes.toByteArray();
    float[] scaleValues = scales.toFloatArray();
    for (int flat = 0; flat < all.length; flat++) {
      int column = flat % 90;
      int row = (flat / 90) % 50;
      int matrix = flat / (90 * 50);
      float expected = Fp8E4m3.toFloat(codeBytes[flat]) * scaleValues[(matrix * 4 + row / 16) * 3 + column / 32];
      assertThat(all[flat]).isEqualTo(expected);
    }
    // Row and column cuts (as column- and row-parallel splits take them), an expert cut, and their composition.
    Tensor expected = Tensor.ofFloats(weight.shape(), all);
    assertViewEquals(full.slice(1, 25, 25), expected.slice(1, 25, 25));
    assertViewEquals(full.slice(2, 45, 45), expected.slice(2, 45, 45));
    assertViewEquals(full.select(1).slice(0, 10, 30).slice(1, 3, 60), expected.select(1).slice(0, 10, 30).slice(1, 3, 60));
    assertViewEquals(full.slice(0, 1, 1).slice(2, 31, 2), expected.slice(0, 1, 1).slice(2, 31, 2));
    assertViewEquals(full.select(0).select(17), expected.select(0).select(17));
    assertThat(Fp8DequantizedTensor.of(codes, scales, DType.BF16, 16, 32).toByteArray())
        .isEqualTo(expected.convert(DType.BF16).toByteArray());
  }

  @Test
  void aScaleGridOfTheWrongShapeIsRejected() {
    Tensor codes = StridedTensor.contiguous(DType.F8_E4M3, Shape.of(20, 40),
        MemorySegment.ofArray(new byte[800]));
    assertThatThrownBy(() -> Fp8DequantizedTensor.of(codes, Tensor.ofFloats(Shape.of(1, 2), 1f, 1f), DType.BF16, 16, 32))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected [2, 2]");
  }

  private static void assertViewEquals(Tensor actual, Tensor expected) {
    assertThat(actual.shape()).isEqualTo(expected.shape());
    assertThat(actual.toFloatArray()).containsExactly(expected.toFloatArray());
  }

  /**
   * Issue 15: streaming the codes (or the scales alone) of one more tensor reuses the thread's band buffers instead
   * of allocating a band of float32 values and codes per tensor (2.5 MiB here).
   */
  @Test
  void streamingAnotherTensorAllocatesNoBandBuffers() {
    ThreadMXBean threads = (ThreadMXBean) ManagementFactory.getThreadMXBean();
    assumeTrue(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled(),
        "this JVM does not count allocated bytes per thread");
    // The scalar kernel: what is measured here is the buffers, not the Vector API kernel's warm-up (Fp8KernelTest).
    Fp8BlockQuantizer blocks = new Fp8BlockQuantizer(128, 128, new ScalarFp8Kernel());
    // float32 sources: widening bf16 element by element allocates while the JIT has not compiled that loop yet.
    Tensor first = randomBf16(new SplittableRandom(4), 256, 4096).convert(DType.F32).materialize();
    Tensor second = randomBf16(new SplittableRandom(5), 256, 4096).convert(DType.F32).materialize();
    new Fp8BlockQuantized(first, blocks).codes().forEachRun((segment, offset, length, _) -> {});
    Fp8BlockQuantized next = new Fp8BlockQuantized(second, blocks);
    long before = threads.getCurrentThreadAllocatedBytes();
    next.codes().forEachRun((segment, offset, length, _) -> {});
    new Fp8BlockQuantized(second, blocks).scales().forEachRun((segment, offset, length, _) -> {});
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    long bandBytes = 128L * 4096 * (Float.BYTES + 1);
    assertThat(allocated).as("bytes allocated streaming codes and scales").isLessThan(bandBytes / 10);
  }

  /** A tensor streamed while another one's codes are being streamed on the same thread gets buffers of its own. */
  @Test
  void nestedStreamsOnOneThreadKeepTheirOwnBuffers() {
    Fp8BlockQuantizer blocks = new Fp8BlockQuantizer(16, 32);
    Tensor outer = randomBf16(new SplittableRandom(6), 48, 96);
    Tensor inner = randomBf16(new SplittableRandom(7), 40, 96);
    byte[] outerAlone = new Fp8BlockQuantized(outer, blocks).codes().toByteArray();
    byte[] innerAlone = new Fp8BlockQuantized(inner, blocks).codes().toByteArray();
    byte[] outerNested = new byte[outerAlone.length];
    MemorySegment target = MemorySegment.ofArray(outerNested);
    long[] position = {0};
    byte[][] innerNested = new byte[1][];
    new Fp8BlockQuantized(outer, blocks).codes().forEachRun((segment, offset, length, _) -> {
      innerNested[0] = new Fp8BlockQuantized(inner, blocks).codes().toByteArray();
      MemorySegment.copy(segment, offset, target, position[0], length);
      position[0] += length;
    });
    assertThat(outerNested).isEqualTo(outerAlone);
    assertThat(innerNested[0]).isEqualTo(innerAlone);
  }
}
