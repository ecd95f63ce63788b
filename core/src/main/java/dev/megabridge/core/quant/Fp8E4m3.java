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
  /** Bits of 480, the first magnitude past the largest code (448 + half a step above it is 464, the last tie). */
  private static final int NAN_THRESHOLD_BITS = Float.floatToRawIntBits(480f);
  /** Bits of 2^-6, the smallest normal magnitude. */
  private static final int MIN_NORMAL_BITS = Float.floatToRawIntBits(0x1p-6f);
  /** A float whose ulp is the subnormal step 2^-9. */
  private static final float SUBNORMAL_ROUNDER = 0x1p14f;
  private static final int SUBNORMAL_ROUNDER_BITS = Float.floatToRawIntBits(SUBNORMAL_ROUNDER);
  /** Moves a float32 exponent field to the e4m3 one, in the bit position of a float32 exponent. */
  private static final int REBIAS = (EXPONENT_BIAS - 127) << 23;
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
    int bits = Float.floatToRawIntBits(value);
    int sign = (bits >>> 24) & 0x80;
    int magnitudeBits = bits & 0x7FFFFFFF;
    int code;
    if (magnitudeBits >= NAN_THRESHOLD_BITS) {
      // 480 and up (infinities and NaN included) are past the largest finite code.
      code = NAN;
    } else if (magnitudeBits < MIN_NORMAL_BITS) {
      // Subnormal range: adding 2^14 leaves an ulp of 2^-9, the subnormal step, so the float addition itself
      // rounds to the nearest step (ties to even); the bits above 2^14's are the number of steps, 0..8, and
      // 8 steps is the smallest normal, whose code is 8 as well.
      float shifted = Float.intBitsToFloat(magnitudeBits) + SUBNORMAL_ROUNDER;
      code = Float.floatToRawIntBits(shifted) - SUBNORMAL_ROUNDER_BITS;
    } else {
      // Normal range: rebias the exponent (127 → 7) and round the 23-bit mantissa to 3 bits, ties to even,
      // in integer arithmetic; a carry out of the mantissa moves to the next exponent, and 464 ≤ |x| < 480
      // carries into the NaN code, as the format requires.
      int oddMantissa = (magnitudeBits >>> 20) & 1;
      code = (magnitudeBits + REBIAS + 0x7FFFF + oddMantissa) >>> 20;
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
