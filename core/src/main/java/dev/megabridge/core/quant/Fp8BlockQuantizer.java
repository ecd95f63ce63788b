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
  private final Fp8Kernel kernel;

  public Fp8BlockQuantizer(int blockRows, int blockColumns) {
    this(blockRows, blockColumns, Fp8Kernel.preferred());
  }

  public Fp8BlockQuantizer(int blockRows, int blockColumns, Fp8Kernel kernel) {
    if (blockRows < 1 || blockColumns < 1) {
      throw new IllegalArgumentException("block size " + blockRows + "x" + blockColumns + " must be positive");
    }
    this.blockRows = blockRows;
    this.blockColumns = blockColumns;
    this.kernel = kernel;
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

  /** The scale of the block {@code [from, to)} of a band (see {@link #quantizeBand}). */
  public float blockScale(float[] band, int rows, int columns, int from, int to) {
    return scale(kernel.amax(band, rows, columns, from, to));
  }

  /** One element quantized with its block's scale. */
  public static byte quantize(float value, float scale) {
    // Math.max / min keep a NaN weight NaN rather than clamping it.
    return Fp8E4m3.fromFloat(Math.min(Math.max(value / scale, -Fp8E4m3.MAX_FINITE), Fp8E4m3.MAX_FINITE));
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
      float scale = scale(kernel.amax(band, rows, columns, from, to));
      scales[block] = scale;
      kernel.quantize(band, rows, columns, from, to, scale, codes);
    }
  }
}
