package dev.megabridge.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The bf16 / fp16 codecs of {@link DType} against {@link Ieee754Reference}: widening and round trips over every
 * 16-bit pattern, narrowing over seeded random floats weighted towards ties, subnormals and overflow.
 */
class DTypeTest {

  private static final long SEED = 0x5EED_F10A7L;
  private static final int RANDOM_SAMPLES = 200_000;

  private static RandomGenerator random(long seed) {
    return RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
  }

  @Test
  void namesAndSizesMatchTheSafetensorsFormat() {
    Map<String, Integer> expected = Map.ofEntries(Map.entry("F64", 8), Map.entry("F32", 4),
        Map.entry("F16", 2), Map.entry("BF16", 2), Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1),
        Map.entry("I64", 8), Map.entry("I32", 4), Map.entry("I16", 2), Map.entry("I8", 1), Map.entry("U8", 1),
        Map.entry("BOOL", 1));
    assertThat(DType.values()).hasSize(expected.size());
    expected.forEach((name, size) -> {
      DType dtype = DType.fromSafetensorsName(name).orElseThrow();
      assertThat(dtype.byteSize()).as(name).isEqualTo(size);
      assertThat(dtype.safetensorsName()).isEqualTo(name);
    });
    assertThat(DType.fromSafetensorsName("bf16")).isEmpty();
    assertThat(DType.fromSafetensorsName("F8_E4M3FN")).isEmpty();
    assertThat(Arrays.stream(DType.values()).filter(DType::isFloating))
        .containsExactlyInAnyOrder(DType.F64, DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2);
  }

  @Test
  void torchSpellingsResolve() {
    assertThat(DType.fromTorchName("bfloat16")).contains(DType.BF16);
    assertThat(DType.fromTorchName("torch.float16")).contains(DType.F16);
    assertThat(DType.fromTorchName("FLOAT32")).contains(DType.F32);
    assertThat(DType.fromTorchName("double")).contains(DType.F64);
    assertThat(DType.fromTorchName("int8")).isEmpty();
  }

  enum Narrowing {
    BF16(Ieee754Reference.BF16) {
      @Override
      int apply(float value) {
        return DType.floatToBf16(value) & 0xFFFF;
      }

      @Override
      float widen(int bits) {
        return DType.bf16ToFloat((short) bits);
      }
    },
    F16(Ieee754Reference.F16) {
      @Override
      int apply(float value) {
        return DType.floatToF16(value) & 0xFFFF;
      }

      @Override
      float widen(int bits) {
        return DType.f16ToFloat((short) bits);
      }
    };

    final Ieee754Reference reference;

    Narrowing(Ieee754Reference reference) {
      this.reference = reference;
    }

    /** The codec's narrowing, as an unsigned 16-bit pattern. */
    abstract int apply(float value);

    /** The codec's widening of a 16-bit pattern. */
    abstract float widen(int bits);
  }

  @ParameterizedTest
  @EnumSource(Narrowing.class)
  void wideningIsExactForEveryPattern(Narrowing codec) {
    Ieee754Reference format = codec.reference;
    for (int bits = 0; bits < 1 << 16; bits++) {
      float actual = codec.widen(bits);
      String what = "%s pattern 0x%04x".formatted(codec, bits);
      if (format.isNaN(bits)) {
        assertThat(actual).as(what).isNaN();
        assertThat(Float.floatToRawIntBits(actual) < 0).as(what + " sign").isEqualTo((bits & 0x8000) != 0);
      } else {
        // Compare raw bits of the double so that -0.0 and +0.0 are told apart.
        assertThat(Double.doubleToRawLongBits(actual)).as(what).isEqualTo(Double.doubleToRawLongBits(format.decode(bits)));
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Narrowing.class)
  void roundTripIsTheIdentityForEveryNonNaNPattern(Narrowing codec) {
    Ieee754Reference format = codec.reference;
    for (int bits = 0; bits < 1 << 16; bits++) {
      int back = codec.apply(codec.widen(bits));
      String what = "%s pattern 0x%04x".formatted(codec, bits);
      if (format.isNaN(bits)) {
        assertThat(format.isNaN(back)).as(what).isTrue();
        assertThat(back & 0x8000).as(what + " sign").isEqualTo(bits & 0x8000);
      } else {
        assertThat(back).as(what).isEqualTo(bits);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Narrowing.class)
  void narrowingRoundsToNearestEvenOnRandomFloats(Narrowing narrowing) {
    RandomGenerator random = random(SEED + narrowing.ordinal());
    for (int sample = 0; sample < RANDOM_SAMPLES; sample++) {
      float value = switch (sample % 3) {
        case 0 -> Float.intBitsToFloat(random.nextInt());
        // Exponents around the target's subnormal, normal and overflow ranges.
        case 1 -> Float.intBitsToFloat((random.nextInt() & 0x807FFFFF) | (random.nextInt(90, 160) << 23));
        default -> Float.intBitsToFloat((random.nextInt() & 0x807FFFFF) | (random.nextInt(0, 8) << 23));
      };
      assertNarrowed(narrowing, value);
    }
  }

  /** Exact midpoints between neighbouring target values, and the floats just beside them. */
  @ParameterizedTest
  @EnumSource(Narrowing.class)
  void narrowingBreaksExactTiesToEven(Narrowing narrowing) {
    RandomGenerator random = random(SEED ^ narrowing.ordinal());
    Ieee754Reference format = narrowing.reference;
    int infinity = format.infinityPattern();
    for (int sample = 0; sample < RANDOM_SAMPLES / 4; sample++) {
      int low = random.nextInt(0, infinity); // finite, non-negative; low + 1 may be the infinity pattern
      double lowValue = format.decode(low);
      double highValue = low + 1 == infinity ? Math.scalb(1.0, format.bias() + 1) : format.decode(low + 1);
      float tie = (float) ((lowValue + highValue) / 2);
      assertThat((double) tie).as("midpoint of 0x%04x is a float", low).isEqualTo((lowValue + highValue) / 2);
      float signed = random.nextBoolean() ? -tie : tie;
      int expectedMagnitude = (low & 1) == 0 ? low : low + 1;
      assertThat(narrowing.apply(signed) & 0x7FFF).as("tie above 0x%04x", low).isEqualTo(expectedMagnitude);
      assertNarrowed(narrowing, signed);
      assertNarrowed(narrowing, Math.nextUp(signed));
      assertNarrowed(narrowing, Math.nextDown(signed));
    }
  }

  @ParameterizedTest
  @EnumSource(Narrowing.class)
  void narrowingKeepsSpecialValues(Narrowing narrowing) {
    Ieee754Reference format = narrowing.reference;
    int infinity = format.infinityPattern();
    assertThat(narrowing.apply(Float.POSITIVE_INFINITY)).isEqualTo(infinity);
    assertThat(narrowing.apply(Float.NEGATIVE_INFINITY)).isEqualTo(infinity | 0x8000);
    assertThat(narrowing.apply(0f)).isZero();
    assertThat(narrowing.apply(-0f)).isEqualTo(0x8000);
    assertThat(narrowing.apply(Float.MAX_VALUE)).isEqualTo(infinity);
    assertThat(narrowing.apply(Float.MIN_VALUE)).isZero();
    assertThat(narrowing.apply(-Float.MIN_VALUE)).isEqualTo(0x8000);
    RandomGenerator random = random(SEED * 31 + narrowing.ordinal());
    for (int sample = 0; sample < 10_000; sample++) {
      // Every NaN payload, including those whose upper bits alone would read as infinity.
      int payload = random.nextInt(1, 1 << 23);
      int sign = random.nextBoolean() ? 0x80000000 : 0;
      float nan = Float.intBitsToFloat(sign | 0x7F800000 | payload);
      int result = narrowing.apply(nan);
      assertThat(format.isNaN(result)).as("NaN payload 0x%06x", payload).isTrue();
      assertThat(result & 0x8000).isEqualTo(sign == 0 ? 0 : 0x8000);
    }
  }

  private static void assertNarrowed(Narrowing narrowing, float value) {
    int actual = narrowing.apply(value);
    int expected = narrowing.reference.round(value);
    if (Float.isNaN(value)) {
      assertThat(narrowing.reference.isNaN(actual)).as("NaN %08x", Float.floatToRawIntBits(value)).isTrue();
      return;
    }
    assertThat(actual).as("%s of %s (bits %08x)", narrowing, value, Float.floatToRawIntBits(value))
        .isEqualTo(expected);
  }
}
