package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.tensor.StridedTensor;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image preprocessing against the HF image processor outputs in {@code reference/preprocess.*}. */
class ImagePreprocessorTest {

  private static ImagePreprocessor.RgbImage image(SafetensorsCheckpoint source, String key) {
    StridedTensor tensor = source.tensor(key);
    int height = (int) tensor.shape().dim(0);
    int width = (int) tensor.shape().dim(1);
    return new ImagePreprocessor.RgbImage(height, width, tensor.toByteArray());
  }

  @Test
  void unresizedImageMatchesHfPixelValuesAndGrid() {
    SafetensorsCheckpoint reference = Fixtures.preprocess();
    ImagePreprocessor preprocessor = ImagePreprocessor.load(Fixtures.model("qwen35_dense_vl"));
    ImageInput input = preprocessor.process(image(reference, "image_u8"));
    long[] grid = Fixtures.longs(reference, "image_grid_thw");
    assertThat(input.grids()).containsExactly(new GridThw((int) grid[0], (int) grid[1], (int) grid[2]));
    assertThat(Fixtures.maxAbsDifference(input.pixelValues(), Fixtures.floats(reference, "pixel_values_hf")))
        .isLessThanOrEqualTo(1e-6);
  }

  @Test
  void resizedImageMatchesPillowBicubic() {
    SafetensorsCheckpoint reference = Fixtures.preprocess();
    ImagePreprocessor preprocessor = ImagePreprocessor.load(Fixtures.model("qwen35_dense_vl"));
    ImageInput input = preprocessor.process(image(reference, "resize_image_u8"));
    long[] grid = Fixtures.longs(reference, "resize_image_grid_thw_hf");
    assertThat(input.grids()).containsExactly(new GridThw((int) grid[0], (int) grid[1], (int) grid[2]));
    double difference = Fixtures.maxAbsDifference(input.pixelValues(), Fixtures.floats(reference,
        "resize_pixel_values_hf"));
    System.out.printf("resized pixel values max abs difference %.3g%n", difference);
    assertThat(difference).isLessThanOrEqualTo(1e-6);
  }

  @Test
  void smartResizeMatchesTransformersTable() throws Exception {
    JsonNode table = HfConfig.JSON.readTree(Files.readString(Fixtures.root().resolve("reference")
        .resolve("preprocess.json"))).path("smart_resize_table_real_defaults");
    assertThat(table.size()).isGreaterThan(5);
    for (JsonNode row : table) {
      ImagePreprocessor preprocessor = new ImagePreprocessor(16, 2, 2, row.path("min_pixels").asLong(),
          row.path("max_pixels").asLong(), 1 / 255.0, new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5});
      int[] size = preprocessor.smartResize(row.path("h").asInt(), row.path("w").asInt());
      assertThat(size).as("smart_resize(%s, %s)", row.path("h"), row.path("w"))
          .containsExactly(row.path("hf").get(0).asInt(), row.path("hf").get(1).asInt());
    }
  }

  @Test
  void pngFileDecodesToTheSamePixels(@TempDir Path directory) throws Exception {
    ImagePreprocessor.RgbImage raw = image(Fixtures.preprocess(), "image_u8");
    BufferedImage buffered = new BufferedImage(raw.width(), raw.height(), BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < raw.height(); y++) {
      for (int x = 0; x < raw.width(); x++) {
        int offset = (y * raw.width() + x) * 3;
        buffered.setRGB(x, y, (raw.pixels()[offset] & 0xFF) << 16 | (raw.pixels()[offset + 1] & 0xFF) << 8
            | (raw.pixels()[offset + 2] & 0xFF));
      }
    }
    Path file = directory.resolve("image.png");
    ImageIO.write(buffered, "png", file.toFile());
    assertThat(ImagePreprocessor.RgbImage.read(file).pixels()).isEqualTo(raw.pixels());
  }
}
