package dev.megabridge.runtime.qwen35;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.UsageException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * The Qwen2-VL image processor (docs/model.md §5): RGB conversion, smart resize to multiples of
 * {@code patchSize·mergeSize} within [minPixels, maxPixels], PIL-compatible bicubic resampling (Pillow's 8-bit
 * fixed-point two-pass filter, horizontal first), rescale and normalise, and the merge-block patch order.
 */
public record ImagePreprocessor(int patchSize, int temporalPatchSize, int mergeSize, long minPixels, long maxPixels,
    double rescaleFactor, double[] mean, double[] std) {

  /** Pillow's fixed-point precision for 8-bit resampling: 32 − 8 − 2. */
  private static final int PRECISION_BITS = 22;

  public ImagePreprocessor {
    mean = mean.clone();
    std = std.clone();
  }

  /**
   * The Qwen3.5 defaults (docs/model.md §5.1): patch 16, temporal 2, merge 2, 65536…16777216 pixels,
   * mean = std = 0.5.
   */
  public static ImagePreprocessor defaults() {
    return new ImagePreprocessor(16, 2, 2, 65536, 16777216, 1 / 255.0, new double[] {0.5, 0.5, 0.5},
        new double[] {0.5, 0.5, 0.5});
  }

  /** Reads {@code preprocessor_config.json} of a model folder (defaults for absent keys or file). */
  public static ImagePreprocessor load(Path modelDirectory) {
    Path file = modelDirectory.resolve("preprocessor_config.json");
    ImagePreprocessor fallback = defaults();
    if (!Files.isRegularFile(file)) {
      return fallback;
    }
    try {
      JsonNode root = HfConfig.JSON.readTree(Files.readString(file));
      JsonNode size = root.path("size");
      long min = root.path("min_pixels").asLong(size.path("shortest_edge").asLong(fallback.minPixels()));
      long max = root.path("max_pixels").asLong(size.path("longest_edge").asLong(fallback.maxPixels()));
      return new ImagePreprocessor(root.path("patch_size").asInt(fallback.patchSize()),
          root.path("temporal_patch_size").asInt(fallback.temporalPatchSize()),
          root.path("merge_size").asInt(fallback.mergeSize()), min, max,
          root.path("rescale_factor").asDouble(fallback.rescaleFactor()),
          triple(root.path("image_mean"), fallback.mean()), triple(root.path("image_std"), fallback.std()));
    } catch (IOException e) {
      throw new UsageException(file + ": cannot read: " + e.getMessage());
    }
  }

  private static double[] triple(JsonNode node, double[] fallback) {
    if (!node.isArray() || node.size() != 3) {
      return fallback;
    }
    return new double[] {node.get(0).asDouble(), node.get(1).asDouble(), node.get(2).asDouble()};
  }

  /** An 8-bit RGB image, {@code pixels[(y·width + x)·3 + channel]}. */
  public record RgbImage(int height, int width, byte[] pixels) {

    public RgbImage {
      if ((long) height * width * 3 != pixels.length) {
        throw new IllegalArgumentException(pixels.length + " bytes for a " + height + "x" + width + " RGB image");
      }
    }

    /** Decodes PNG, JPEG, … with ImageIO and converts to RGB (alpha dropped). */
    public static RgbImage read(Path file) {
      BufferedImage image;
      try {
        image = ImageIO.read(file.toFile());
      } catch (IOException e) {
        throw new UsageException(file + ": cannot read image: " + e.getMessage());
      }
      if (image == null) {
        throw new UsageException(file + ": not an image format ImageIO can decode");
      }
      int height = image.getHeight();
      int width = image.getWidth();
      byte[] pixels = new byte[height * width * 3];
      for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
          int rgb = image.getRGB(x, y);
          int offset = (y * width + x) * 3;
          pixels[offset] = (byte) (rgb >> 16);
          pixels[offset + 1] = (byte) (rgb >> 8);
          pixels[offset + 2] = (byte) rgb;
        }
      }
      return new RgbImage(height, width, pixels);
    }
  }

  /** Target (height, width) of smart_resize (docs/model.md §5.2), with Python's half-to-even rounding. */
  public int[] smartResize(int height, int width) {
    int factor = patchSize * mergeSize;
    if (height < factor || width < factor) {
      throw new UsageException("image " + height + "x" + width + " is smaller than " + factor + " pixels");
    }
    if ((double) Math.max(height, width) / Math.min(height, width) > 200) {
      throw new UsageException("image aspect ratio above 200");
    }
    long resizedHeight = (long) Math.rint((double) height / factor) * factor;
    long resizedWidth = (long) Math.rint((double) width / factor) * factor;
    if (resizedHeight * resizedWidth > maxPixels) {
      double beta = Math.sqrt((double) height * width / maxPixels);
      resizedHeight = Math.max(factor, (long) Math.floor(height / beta / factor) * factor);
      resizedWidth = Math.max(factor, (long) Math.floor(width / beta / factor) * factor);
    } else if (resizedHeight * resizedWidth < minPixels) {
      double beta = Math.sqrt((double) minPixels / ((double) height * width));
      resizedHeight = (long) Math.ceil(height * beta / factor) * factor;
      resizedWidth = (long) Math.ceil(width * beta / factor) * factor;
    }
    return new int[] {(int) resizedHeight, (int) resizedWidth};
  }

  public ImageInput process(Path file) {
    return process(RgbImage.read(file));
  }

  /** Pixel rows {@code [patches, 3·T·P·P]} and the grid of one image. */
  public ImageInput process(RgbImage image) {
    int[] size = smartResize(image.height(), image.width());
    RgbImage resized = size[0] == image.height() && size[1] == image.width() ? image
        : resizeBicubic(image, size[0], size[1]);
    int height = resized.height();
    int width = resized.width();
    float[] normalised = new float[3 * height * width];
    byte[] pixels = resized.pixels();
    for (int channel = 0; channel < 3; channel++) {
      for (int index = 0; index < height * width; index++) {
        double value = (pixels[index * 3 + channel] & 0xFF) * rescaleFactor;
        normalised[channel * height * width + index] = (float) ((value - mean[channel]) / std[channel]);
      }
    }
    int gridHeight = height / patchSize;
    int gridWidth = width / patchSize;
    int patchDim = 3 * temporalPatchSize * patchSize * patchSize;
    float[] rows = new float[gridHeight * gridWidth * patchDim];
    int patch = 0;
    // Order (block row, block column, in-row, in-column); each row is (channel, frame, y, x); frames repeat.
    for (int blockRow = 0; blockRow < gridHeight / mergeSize; blockRow++) {
      for (int blockColumn = 0; blockColumn < gridWidth / mergeSize; blockColumn++) {
        for (int inRow = 0; inRow < mergeSize; inRow++) {
          for (int inColumn = 0; inColumn < mergeSize; inColumn++) {
            int top = (blockRow * mergeSize + inRow) * patchSize;
            int left = (blockColumn * mergeSize + inColumn) * patchSize;
            int offset = patch * patchDim;
            for (int channel = 0; channel < 3; channel++) {
              for (int frame = 0; frame < temporalPatchSize; frame++) {
                for (int y = 0; y < patchSize; y++) {
                  int source = channel * height * width + (top + y) * width + left;
                  System.arraycopy(normalised, source, rows, offset, patchSize);
                  offset += patchSize;
                }
              }
            }
            patch++;
          }
        }
      }
    }
    return new ImageInput(rows, patchDim, List.of(new GridThw(1, gridHeight, gridWidth)));
  }

  /** Pillow's {@code Image.resize(BICUBIC)} on 8-bit RGB: horizontal pass, then vertical, each rounded to 8 bits. */
  public static RgbImage resizeBicubic(RgbImage image, int height, int width) {
    RgbImage current = image;
    Coefficients vertical = Coefficients.of(image.height(), height);
    if (width != image.width()) {
      Coefficients horizontal = Coefficients.of(image.width(), width);
      int firstRow = vertical.bounds()[0];
      int lastRow = vertical.bounds()[2 * (height - 1)] + vertical.bounds()[2 * (height - 1) + 1];
      byte[] out = new byte[(lastRow - firstRow) * width * 3];
      for (int y = 0; y < lastRow - firstRow; y++) {
        for (int x = 0; x < width; x++) {
          int start = horizontal.bounds()[2 * x];
          int count = horizontal.bounds()[2 * x + 1];
          for (int channel = 0; channel < 3; channel++) {
            int sum = 1 << (PRECISION_BITS - 1);
            for (int tap = 0; tap < count; tap++) {
              sum += (image.pixels()[((y + firstRow) * image.width() + start + tap) * 3 + channel] & 0xFF)
                  * horizontal.weights()[x * horizontal.size() + tap];
            }
            out[(y * width + x) * 3 + channel] = clip8(sum);
          }
        }
      }
      current = new RgbImage(lastRow - firstRow, width, out);
      for (int y = 0; y < height; y++) {
        vertical.bounds()[2 * y] -= firstRow;
      }
    }
    if (height == image.height()) {
      return current;
    }
    byte[] out = new byte[height * width * 3];
    for (int y = 0; y < height; y++) {
      int start = vertical.bounds()[2 * y];
      int count = vertical.bounds()[2 * y + 1];
      for (int x = 0; x < width; x++) {
        for (int channel = 0; channel < 3; channel++) {
          int sum = 1 << (PRECISION_BITS - 1);
          for (int tap = 0; tap < count; tap++) {
            sum += (current.pixels()[((start + tap) * width + x) * 3 + channel] & 0xFF)
                * vertical.weights()[y * vertical.size() + tap];
          }
          out[(y * width + x) * 3 + channel] = clip8(sum);
        }
      }
    }
    return new RgbImage(height, width, out);
  }

  private static byte clip8(int value) {
    if (value >= (1 << PRECISION_BITS << 8)) {
      return (byte) 255;
    }
    if (value <= 0) {
      return 0;
    }
    return (byte) (value >> PRECISION_BITS);
  }

  /** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bicubic filter (a = −0.5, support 2). */
  private record Coefficients(int[] bounds, int[] weights, int size) {

    static Coefficients of(int inSize, int outSize) {
      double scale = (double) inSize / outSize;
      double filterScale = Math.max(scale, 1.0);
      double support = 2.0 * filterScale;
      int size = (int) Math.ceil(support) * 2 + 1;
      int[] bounds = new int[2 * outSize];
      int[] weights = new int[outSize * size];
      double[] kernel = new double[size];
      for (int out = 0; out < outSize; out++) {
        double center = (out + 0.5) * scale;
        double inverse = 1.0 / filterScale;
        int min = Math.max(0, (int) (center - support + 0.5));
        int max = Math.min(inSize, (int) (center + support + 0.5)) - min;
        double total = 0;
        for (int tap = 0; tap < max; tap++) {
          kernel[tap] = bicubic((tap + min - center + 0.5) * inverse);
          total += kernel[tap];
        }
        for (int tap = 0; tap < max; tap++) {
          double normalised = total != 0 ? kernel[tap] / total : kernel[tap];
          weights[out * size + tap] = normalised < 0 ? (int) (-0.5 + normalised * (1 << PRECISION_BITS))
              : (int) (0.5 + normalised * (1 << PRECISION_BITS));
        }
        bounds[2 * out] = min;
        bounds[2 * out + 1] = max;
      }
      return new Coefficients(bounds, weights, size);
    }

    private static double bicubic(double x) {
      double a = -0.5;
      double magnitude = Math.abs(x);
      if (magnitude < 1.0) {
        return ((a + 2.0) * magnitude - (a + 3.0)) * magnitude * magnitude + 1;
      }
      if (magnitude < 2.0) {
        return (((magnitude - 5) * magnitude + 8) * magnitude - 4) * a;
      }
      return 0.0;
    }
  }
}
