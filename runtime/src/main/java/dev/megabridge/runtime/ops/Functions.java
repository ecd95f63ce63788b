package dev.megabridge.runtime.ops;

/**
 * Element-wise functions and normalisations, evaluated in double and rounded to float once
 * (docs/model.md §8), on row-major {@code [rows, width]} buffers.
 */
public final class Functions {

  private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
  private static final double INV_SQRT_PI = 1.0 / Math.sqrt(Math.PI);

  private Functions() {}

  public static float sigmoid(float x) {
    return (float) (1.0 / (1.0 + Math.exp(-(double) x)));
  }

  public static float silu(float x) {
    return (float) (x / (1.0 + Math.exp(-(double) x)));
  }

  /** PyTorch softplus: {@code log(1 + e^x)}, and {@code x} itself above the threshold 20. */
  public static float softplus(float x) {
    return x > 20f ? x : (float) Math.log1p(Math.exp(x));
  }

  /** {@code gelu_pytorch_tanh}: {@code 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))}. */
  public static float geluTanh(float x) {
    double value = x;
    return (float) (0.5 * value * (1.0 + Math.tanh(SQRT_2_OVER_PI * (value + 0.044715 * value * value * value))));
  }

  /** Exact GELU {@code 0.5·x·(1 + erf(x/√2))}. */
  public static float geluErf(float x) {
    return (float) (0.5 * x * (1.0 + erf(x / Math.sqrt(2.0))));
  }

  /**
   * The error function to about 1e-13 absolute: Maclaurin series below |x| = 2.5, continued fraction of erfc
   * above (both converge quickly there), ±1 beyond 6.
   */
  public static double erf(double x) {
    double magnitude = Math.abs(x);
    double result;
    if (magnitude < 2.5) {
      double square = x * x;
      double term = x;
      double sum = x;
      for (int n = 1; n < 100; n++) {
        term *= -square / n;
        double contribution = term / (2 * n + 1);
        sum += contribution;
        if (Math.abs(contribution) < 1e-17 * Math.abs(sum)) {
          break;
        }
      }
      return 2.0 * INV_SQRT_PI * sum;
    } else if (magnitude < 6.0) {
      // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated backwards.
      double fraction = magnitude;
      for (int n = 60; n >= 1; n--) {
        fraction = magnitude + (n / 2.0) / fraction;
      }
      result = 1.0 - Math.exp(-magnitude * magnitude) * INV_SQRT_PI / fraction;
    } else {
      result = 1.0;
    }
    return x < 0 ? -result : result;
  }

  /** {@code out[r] = x[r] / sqrt(mean(x[r]²) + eps) · (1 + weight)}: the zero-centred RMSNorm (docs/model.md §3.2). */
  public static void rmsNormZeroCentred(float[] x, int rows, int width, float[] weight, float eps, float[] out) {
    for (int row = 0; row < rows; row++) {
      rmsNormRow(x, row * width, width, weight, true, eps, out, row * width);
    }
  }

  /** One row of an RMSNorm, zero-centred ({@code 1 + w}) or plain ({@code w}). */
  public static void rmsNormRow(float[] x, int offset, int width, float[] weight, boolean zeroCentred, float eps,
      float[] out, int outOffset) {
    double sumOfSquares = 0;
    for (int i = 0; i < width; i++) {
      double value = x[offset + i];
      sumOfSquares += value * value;
    }
    float inverse = (float) (1.0 / Math.sqrt((float) (sumOfSquares / width) + (double) eps));
    for (int i = 0; i < width; i++) {
      float scale = zeroCentred ? 1f + weight[i] : weight[i];
      out[outOffset + i] = x[offset + i] * inverse * scale;
    }
  }

  /** LayerNorm with biased variance: {@code (x − mean)/sqrt(var + eps)·w + b} per row. */
  public static void layerNorm(float[] x, int rows, int width, float[] weight, float[] bias, float eps, float[] out) {
    for (int row = 0; row < rows; row++) {
      int offset = row * width;
      double sum = 0;
      for (int i = 0; i < width; i++) {
        sum += x[offset + i];
      }
      double mean = sum / width;
      double variance = 0;
      for (int i = 0; i < width; i++) {
        double centred = x[offset + i] - mean;
        variance += centred * centred;
      }
      double inverse = 1.0 / Math.sqrt(variance / width + eps);
      for (int i = 0; i < width; i++) {
        out[offset + i] = (float) ((x[offset + i] - mean) * inverse) * weight[i] + bias[i];
      }
    }
  }

  /** In-place softmax of {@code x[offset, offset + length)} (max-subtracted, double accumulation). */
  public static void softmax(float[] x, int offset, int length) {
    float max = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < length; i++) {
      max = Math.max(max, x[offset + i]);
    }
    double sum = 0;
    for (int i = 0; i < length; i++) {
      double value = Math.exp((double) x[offset + i] - max);
      x[offset + i] = (float) value;
      sum += value;
    }
    float inverse = (float) (1.0 / sum);
    for (int i = 0; i < length; i++) {
      x[offset + i] *= inverse;
    }
  }

  /** {@code x[i] += y[i]} over whole arrays. */
  public static void addInPlace(float[] x, float[] y) {
    for (int i = 0; i < x.length; i++) {
      x[i] += y[i];
    }
  }
}
