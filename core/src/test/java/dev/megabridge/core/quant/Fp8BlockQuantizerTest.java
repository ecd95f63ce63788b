package dev.megabridge.core.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The block algorithm on shapes that are not multiples of the block, with hand-derived expectations. */
class Fp8BlockQuantizerTest {

  @Test
  void eachBlockIsScaledByItsOwnMaximum() {
    // 2 × 3 matrix, blocks of 2 × 2: block 0 = columns 0..1, block 1 = column 2 (narrower than the block).
    float[] band = {1f, -2f, 0.5f,
                    4f, 0.25f, -8f};
    byte[] codes = new byte[6];
    float[] scales = new float[2];
    new Fp8BlockQuantizer(2, 2).quantizeBand(band, 2, 3, codes, scales);
    assertThat(scales[0]).isEqualTo(4f / 448f);
    assertThat(scales[1]).isEqualTo(8f / 448f);
    // The block maximum maps to ±448 exactly; the rest to the nearest code of w / scale.
    assertThat(Fp8E4m3.toFloat(codes[3])).isEqualTo(448f);
    assertThat(Fp8E4m3.toFloat(codes[5])).isEqualTo(-448f);
    assertThat(Fp8E4m3.toFloat(codes[0])).isEqualTo(Fp8E4m3.toFloat(Fp8E4m3.fromFloat(1f / (4f / 448f))));
    assertThat(Fp8E4m3.toFloat(codes[2])).isEqualTo(Fp8E4m3.toFloat(Fp8E4m3.fromFloat(0.5f / (8f / 448f))));
  }

  @Test
  void anAllZeroBlockGivesZerosAndTheFloorScale() {
    byte[] codes = new byte[4];
    float[] scales = new float[1];
    new Fp8BlockQuantizer(128, 128).quantizeBand(new float[] {0f, -0f, 0f, 0f}, 2, 2, codes, scales);
    assertThat(scales[0]).isEqualTo(1e-12f / 448f);
    assertThat(codes).containsExactly(0, (byte) 0x80, 0, 0);
  }

  @Test
  void dequantizedValuesAreWithinHalfAStepOfTheWeight() {
    SplittableRandom random = new SplittableRandom(3);
    int rows = 5;
    int columns = 300;
    float[] band = new float[rows * columns];
    for (int index = 0; index < band.length; index++) {
      band[index] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-3, 3)));
    }
    byte[] codes = new byte[band.length];
    float[] scales = new float[(int) Fp8BlockQuantizer.blockCount(columns, 128)];
    new Fp8BlockQuantizer(128, 128).quantizeBand(band, rows, columns, codes, scales);
    assertThat(scales).hasSize(3);
    for (int index = 0; index < band.length; index++) {
      float scale = scales[(index % columns) / 128];
      float restored = Fp8BlockQuantizer.dequantize(codes[index], scale);
      // e4m3 keeps 3 mantissa bits: relative error ≤ 2^-4 for normals, absolute ≤ 2^-10 × scale for subnormals.
      double bound = Math.max(Math.abs(band[index]) * 0x1p-4, 0x1p-10 * scale) * 1.0000001;
      assertThat((double) Math.abs(restored - band[index])).as("element %d", index).isLessThanOrEqualTo(bound);
    }
  }

  @Test
  void rejectsBandsTallerThanTheBlock() {
    assertThatThrownBy(() -> new Fp8BlockQuantizer(2, 2).quantizeBand(new float[6], 3, 2, new byte[6], new float[1]))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
