package dev.megabridge.core.quant;

/**
 * The FP8 format torch calls {@code float8_e4m3fn} and safetensors {@code F8_E4M3}: 1 sign bit, 4 exponent bits
 * (bias 7), 3 mantissa bits, no infinities; the codes {@code S.1111.111} are NaN, so the largest finite
 * magnitude is {@code 1.75 × 2^8 = 448}. Exponent field 0 holds the subnormals {@code m × 2^-9}.
 *
 * <p>Encoding rounds to the nearest representable value, ties to the even code (docs/formats.md §5.2). Like
 * torch's conversion it does not saturate: a magnitude that rounds above 448 (from 464 up, infinities
 * included) becomes NaN. Quantizers clamp to ±448 first, so they never reach that case.
 */
public final class Fp8E4m3 {
  /** Largest finite magnitude. */
  public static final float MAX_FINITE = 448f;
  /** The positive NaN code; its negative twin is {@code 0xFF}. */
  public static final byte NAN = 0x7F;

  private static final int EXPONENT_BIAS = 7;
  private static final int MANTISSA_BITS = 3;
  /** Smallest normal exponent (unbiased). */
  private static final int MIN_NORMAL_EXPONENT = 1 - EXPONENT_BIAS;
  /** Subnormal step: {@code 2^(MIN_NORMAL_EXPONENT - MANTISSA_BITS)} = 2^-9. */
  private static final float SUBNORMAL_SCALE = 0x1p9f;
  private static final float[] DECODED = new float[256];

  static {
    for (int code = 0; code < 256; code++) {
      DECODED[code] = decode(code);
    }
  }

  private Fp8E4m3() {}

  /** The exact value of an FP8 code (NaN for the two NaN codes). */
  public static float toFloat(byte code) {
    return DECODED[code & 0xFF];
  }

  /** The FP8 code nearest to {@code value}, ties to even; NaN for NaN and for magnitudes rounding above 448. */
  public static byte fromFloat(float value) {
    int sign = (Float.floatToRawIntBits(value) >>> 24) & 0x80;
    float magnitude = Math.abs(value);
    if (Float.isNaN(magnitude)) {
      return (byte) (sign | NAN);
    }
    int exponent = Math.getExponent(magnitude);
    int code;
    if (exponent < MIN_NORMAL_EXPONENT) {
      // Subnormal range (including zero): the code is the number of 2^-9 steps; 8 steps is the smallest
      // normal, whose code is 8 as well, so rounding up into the normal range needs no special case.
      code = (int) Math.rint(magnitude * SUBNORMAL_SCALE);
    } else if (exponent > 8) {
      code = NAN;
    } else {
      // magnitude / 2^(exponent - 3) lies in [8, 16); the rounded value 16 carries into the next exponent.
      int scaled = (int) Math.rint(Math.scalb(magnitude, MANTISSA_BITS - exponent));
      code = ((exponent + EXPONENT_BIAS) << MANTISSA_BITS) + (scaled - 8);
      if (code > NAN) {
        code = NAN;
      }
    }
    return (byte) (sign | code);
  }

  private static float decode(int code) {
    int sign = (code & 0x80) != 0 ? -1 : 1;
    int exponentField = (code >>> MANTISSA_BITS) & 0xF;
    int mantissa = code & 0x7;
    if (exponentField == 0xF && mantissa == 0x7) {
      return Float.NaN;
    }
    if (exponentField == 0) {
      return sign * Math.scalb((float) mantissa, MIN_NORMAL_EXPONENT - MANTISSA_BITS);
    }
    return sign * Math.scalb((float) (8 + mantissa), exponentField - EXPONENT_BIAS - MANTISSA_BITS);
  }
}
