package dev.megabridge.core.quant;

/** The FP8 block loops one element at a time: the reference the vector kernel is checked against. */
public final class ScalarFp8Kernel implements Fp8Kernel {

  @Override
  public float amax(float[] values, int rows, int columns, int from, int to) {
    float amax = 0f;
    for (int row = 0; row < rows; row++) {
      int base = row * columns;
      for (int column = from; column < to; column++) {
        amax = Math.max(amax, Math.abs(values[base + column]));
      }
    }
    return amax;
  }

  @Override
  public void quantize(float[] values, int rows, int columns, int from, int to, float scale, byte[] codes) {
    for (int row = 0; row < rows; row++) {
      int base = row * columns;
      for (int column = from; column < to; column++) {
        codes[base + column] = Fp8BlockQuantizer.quantize(values[base + column], scale);
      }
    }
  }
}
