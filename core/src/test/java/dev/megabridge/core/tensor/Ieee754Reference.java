package dev.megabridge.core.tensor;

import java.math.BigDecimal;

/**
 * An independent, deliberately slow model of a small binary floating-point format (bf16: 8 exponent bits and
 * 7 mantissa bits; fp16: 5 and 10). Values are decoded arithmetically into doubles, and rounding searches the
 * ordered list of representable magnitudes and compares distances in exact {@link BigDecimal} arithmetic,
 * so it shares no bit manipulation with the code under test.
 */
public record Ieee754Reference(int exponentBits, int mantissaBits) {

  public static final Ieee754Reference BF16 = new Ieee754Reference(8, 7);
  public static final Ieee754Reference F16 = new Ieee754Reference(5, 10);

  int bias() {
    return (1 << (exponentBits - 1)) - 1;
  }

  int signBit() {
    return 1 << (exponentBits + mantissaBits);
  }

  int infinityPattern() {
    return ((1 << exponentBits) - 1) << mantissaBits;
  }

  public boolean isNaN(int bits) {
    int magnitude = bits & (signBit() - 1);
    return magnitude > infinityPattern();
  }

  /** The exact value of {@code bits}: (-1)^s · 2^(e − bias) · (1 + m/2^p), or 2^(1 − bias) · m/2^p if e = 0. */
  public double decode(int bits) {
    boolean negative = (bits & signBit()) != 0;
    int magnitude = bits & (signBit() - 1);
    double value;
    if (magnitude == infinityPattern()) {
      value = Double.POSITIVE_INFINITY;
    } else if (magnitude > infinityPattern()) {
      return Double.NaN;
    } else {
      value = magnitudeValue(magnitude);
    }
    return negative ? -value : value;
  }

  /** Value of a non-negative finite pattern; the infinity pattern counts as 2^(emax + 1) (IEEE overflow rule). */
  private double magnitudeValue(int magnitude) {
    int exponent = magnitude >>> mantissaBits;
    int mantissa = magnitude & ((1 << mantissaBits) - 1);
    if (exponent == 0) {
      return Math.scalb((double) mantissa, 1 - bias() - mantissaBits);
    }
    return Math.scalb((double) ((1 << mantissaBits) + mantissa), exponent - bias() - mantissaBits);
  }

  /** Round to nearest, ties to even; NaN gives some NaN with the sign of the input. */
  public int round(double value) {
    int sign = (Double.doubleToRawLongBits(value) < 0) ? signBit() : 0;
    if (Double.isNaN(value)) {
      return sign | infinityPattern() | (1 << (mantissaBits - 1));
    }
    double magnitude = Math.abs(value);
    if (Double.isInfinite(magnitude)) {
      return sign | infinityPattern();
    }
    // Largest pattern whose value is <= magnitude (patterns 0..infinity are ordered by value).
    int low = 0;
    int high = infinityPattern();
    while (low < high) {
      int middle = (low + high + 1) >>> 1;
      if (magnitudeValue(middle) <= magnitude) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    if (low == infinityPattern() || magnitudeValue(low) == magnitude) {
      return sign | low;
    }
    BigDecimal exact = new BigDecimal(magnitude);
    BigDecimal below = exact.subtract(new BigDecimal(magnitudeValue(low)));
    BigDecimal above = new BigDecimal(magnitudeValue(low + 1)).subtract(exact);
    int comparison = below.compareTo(above);
    int chosen = comparison < 0 ? low : comparison > 0 ? low + 1 : ((low & 1) == 0 ? low : low + 1);
    return sign | chosen;
  }
}
