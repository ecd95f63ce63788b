package dev.megabridge.core.quant;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The FP8 codec against a reference written here from the format's definition: the 127 non-negative finite
 * values {@code m × 2^-9} (m = 0..7) and {@code (8 + m) × 2^(e - 10)} (e = 1..15, except e = 15, m = 7), and
 * round-to-nearest with ties to the even code, where anything nearer to (or tied with, the odd code 0x7F) the
 * first value past the top, 480, is NaN.
 */
class Fp8E4m3Test {

  /** Non-negative finite values by code (index = code), plus the virtual 480 at index 127. */
  private static final double[] VALUES = referenceValues();

  private static double[] referenceValues() {
    double[] values = new double[128];
    for (int code = 0; code < 128; code++) {
      int exponentField = code >>> 3;
      int mantissa = code & 7;
      values[code] = exponentField == 0 ? mantissa * 0x1p-9 : (8 + mantissa) * Math.pow(2, exponentField - 10);
    }
    return values;
  }

  /** The reference encoding of a non-negative, non-NaN float. */
  private static int referenceCode(float value) {
    int index = Arrays.binarySearch(VALUES, value);
    if (index >= 0) {
      return index == 127 ? 0x7F : index;
    }
    int upper = -index - 1;
    if (upper >= VALUES.length) {
      return 0x7F;
    }
    int lower = upper - 1;
    double below = value - VALUES[lower];
    double above = VALUES[upper] - value;
    int code = below < above ? lower : above < below ? upper : (lower % 2 == 0 ? lower : upper);
    return code;
  }

  @Test
  void decodesEveryCodeAsTheFormatDefines() {
    int finite = 0;
    for (int code = 0; code < 256; code++) {
      float value = Fp8E4m3.toFloat((byte) code);
      if ((code & 0x7F) == 0x7F) {
        assertThat(value).as("code %02x", code).isNaN();
        continue;
      }
      finite++;
      double expected = ((code & 0x80) != 0 ? -1 : 1) * VALUES[code & 0x7F];
      assertThat((double) value).as("code %02x", code).isEqualTo(expected);
    }
    assertThat(finite).isEqualTo(254);
    assertThat(Fp8E4m3.toFloat((byte) 0x7E)).isEqualTo(448f);
    assertThat(Fp8E4m3.toFloat((byte) 0x01)).isEqualTo(0x1p-9f);
    assertThat(Float.floatToRawIntBits(Fp8E4m3.toFloat((byte) 0x80))).isEqualTo(Float.floatToRawIntBits(-0f));
  }

  @Test
  void everyFiniteCodeRoundTrips() {
    for (int code = 0; code < 256; code++) {
      if ((code & 0x7F) != 0x7F) {
        assertThat(Fp8E4m3.fromFloat(Fp8E4m3.toFloat((byte) code))).as("code %02x", code).isEqualTo((byte) code);
      }
    }
  }

  /**
   * Exhaustive over every positive float32 from 2^-10 (half the smallest subnormal: everything below rounds to
   * zero, checked separately) up to 2^9 (past the NaN threshold): 20 binades, 167,772,160 bit patterns.
   */
  @Test
  void roundsEveryFloatInRangeToTheNearestEvenCode() {
    int from = Float.floatToRawIntBits(0x1p-10f);
    int to = Float.floatToRawIntBits(0x1p9f);
    long mismatches = IntStream.range(from, to).parallel()
        .filter(bits -> {
          float value = Float.intBitsToFloat(bits);
          return Fp8E4m3.fromFloat(value) != (byte) referenceCode(value);
        })
        .count();
    assertThat(mismatches).isZero();
  }

  @Test
  void belowHalfTheSmallestSubnormalIsZeroAndTheSignIsKept() {
    SplittableRandom random = new SplittableRandom(7);
    int limit = Float.floatToRawIntBits(0x1p-10f);
    for (int sample = 0; sample < 1_000_000; sample++) {
      float value = Float.intBitsToFloat(random.nextInt(limit));
      assertThat(Fp8E4m3.fromFloat(value)).isEqualTo((byte) 0);
      assertThat(Fp8E4m3.fromFloat(-value)).isEqualTo((byte) 0x80);
    }
    assertThat(Fp8E4m3.fromFloat(0x1p-10f)).as("tie between 0 and 2^-9 goes to the even code 0").isZero();
    assertThat(Fp8E4m3.fromFloat(Math.nextUp(0x1p-10f))).isEqualTo((byte) 1);
  }

  @Test
  void negativeValuesMirrorPositiveOnes() {
    SplittableRandom random = new SplittableRandom(11);
    for (int sample = 0; sample < 2_000_000; sample++) {
      float value = Float.intBitsToFloat(random.nextInt() & 0x7FFFFFFF);
      byte positive = Fp8E4m3.fromFloat(value);
      assertThat(Fp8E4m3.fromFloat(-value)).isEqualTo((byte) (positive | 0x80));
    }
  }

  @Test
  void nanInfinityAndOverflowBecomeNan() {
    assertThat(Fp8E4m3.fromFloat(Float.NaN)).isEqualTo(Fp8E4m3.NAN);
    assertThat(Fp8E4m3.fromFloat(Float.POSITIVE_INFINITY)).isEqualTo(Fp8E4m3.NAN);
    assertThat(Fp8E4m3.fromFloat(Float.NEGATIVE_INFINITY)).isEqualTo((byte) 0xFF);
    assertThat(Fp8E4m3.fromFloat(464f)).as("tie between 448 and the NaN code goes to even 448").isEqualTo((byte) 0x7E);
    assertThat(Fp8E4m3.fromFloat(Math.nextUp(464f))).isEqualTo(Fp8E4m3.NAN);
    assertThat(Fp8E4m3.fromFloat(Float.MAX_VALUE)).isEqualTo(Fp8E4m3.NAN);
  }
}
