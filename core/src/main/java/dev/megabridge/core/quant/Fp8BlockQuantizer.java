package dev.megabridge.core.quant;

/**
 * Blockwise FP8 quantization of a 2-D weight (docs/formats.md §5): the matrix is cut into blocks of
 * {@code blockRows × blockColumns} (the last block of each axis may be smaller: padding with zeros does not
 * change a block's maximum), each block gets {@code scale = max(amax, 1e-12) / 448} from its largest
 * magnitude, and each element becomes {@code e4m3(clamp(w / scale, -448, 448))}, all in float32. The stored
 * {@code weight_scale_inv} is that scale: dequantization multiplies by it.
 *
 * <p>Work goes one band of {@code blockRows} rows at a time, so a caller streaming a large matrix holds one
 * band, never the whole matrix.
 */
public final class Fp8BlockQuantizer {
  /** The floor of a block's maximum, so that an all-zero block gets a finite, non-zero scale. */
  static final float MIN_AMAX = 1e-12f;

  private final int blockRows;
  private final int blockColumns;

  public Fp8BlockQuantizer(int blockRows, int blockColumns) {
    if (blockRows < 1 || blockColumns < 1) {
      throw new IllegalArgumentException("block size " + blockRows + "x" + blockColumns + " must be positive");
    }
    this.blockRows = blockRows;
    this.blockColumns = blockColumns;
  }

  public int blockRows() {
    return blockRows;
  }

  public int blockColumns() {
    return blockColumns;
  }

  /** Scale blocks along an axis of {@code length} elements split into blocks of {@code block}. */
  public static long blockCount(long length, int block) {
    return (length + block - 1) / block;
  }

  /** The scale of a block whose largest magnitude is {@code amax}. */
  public static float scale(float amax) {
    return Math.max(amax, MIN_AMAX) / Fp8E4m3.MAX_FINITE;
  }

  /** One element quantized with its block's scale. */
  public static byte quantize(float value, float scale) {
    float scaled = value / scale;
    // Math.min/max would turn NaN into a bound; a NaN weight must stay visible as NaN.
    if (scaled > Fp8E4m3.MAX_FINITE) {
      scaled = Fp8E4m3.MAX_FINITE;
    } else if (scaled < -Fp8E4m3.MAX_FINITE) {
      scaled = -Fp8E4m3.MAX_FINITE;
    }
    return Fp8E4m3.fromFloat(scaled);
  }

  /** The dequantized value in float32: {@code float(q) * scale}. */
  public static float dequantize(byte code, float scale) {
    return Fp8E4m3.toFloat(code) * scale;
  }

  /**
   * Quantizes one band of at most {@code blockRows} rows of a matrix with {@code columns} columns, stored row
   * major in {@code band[0 .. rows*columns)}. Writes the codes to {@code codes} (same layout) and the band's
   * scales to {@code scales[0 .. blockCount(columns, blockColumns))}.
   */
  public void quantizeBand(float[] band, int rows, int columns, byte[] codes, float[] scales) {
    if (rows < 1 || rows > blockRows) {
      throw new IllegalArgumentException("a band has 1.." + blockRows + " rows, got " + rows);
    }
    int blocks = (int) blockCount(columns, blockColumns);
    for (int block = 0; block < blocks; block++) {
      int from = block * blockColumns;
      int to = Math.min(columns, from + blockColumns);
      float amax = 0f;
      for (int row = 0; row < rows; row++) {
        int base = row * columns;
        for (int column = from; column < to; column++) {
          amax = Math.max(amax, Math.abs(band[base + column]));
        }
      }
      float scale = scale(amax);
      scales[block] = scale;
      for (int row = 0; row < rows; row++) {
        int base = row * columns;
        for (int column = from; column < to; column++) {
          codes[base + column] = quantize(band[base + column], scale);
        }
      }
    }
  }
}
