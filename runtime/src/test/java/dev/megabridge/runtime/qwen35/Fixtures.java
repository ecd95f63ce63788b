package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.qwen35.Qwen35Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Access to {@code fixtures/qwen35-tiny} (located by the system property {@code megabridge.fixtures}). */
final class Fixtures {

  private static final Map<String, SafetensorsCheckpoint> REFERENCES = new ConcurrentHashMap<>();
  private static final Map<String, Qwen35Model> MODELS = new ConcurrentHashMap<>();

  private Fixtures() {}

  static Path root() {
    String property = System.getProperty("megabridge.fixtures");
    if (property == null) {
      throw new IllegalStateException("system property megabridge.fixtures is not set");
    }
    Path root = Path.of(property).resolve("qwen35-tiny");
    if (!Files.isDirectory(root)) {
      throw new IllegalStateException("no fixtures at " + root);
    }
    return root;
  }

  static Path model(String name) {
    return root().resolve(name);
  }

  /** A shared, lazily loaded model over 2 threads (fixture models are tiny). */
  static Qwen35Model loaded(String name) {
    return MODELS.computeIfAbsent(name, key -> Qwen35Model.load(model(key), RuntimeOptions.defaults().withThreads(2)));
  }

  /** The HF weights of fixture {@code name} (not cached; small). */
  static ModelWeights loadedWeights(String name) {
    HfConfig config = HfConfig.load(model(name));
    return new CheckpointWeights(SafetensorsCheckpoint.open(model(name)),
        RowKinds.of(Qwen35Config.parse(config, config.architectures().getFirst())));
  }

  /** {@code reference/<referenceModel>/reference.safetensors}. */
  static SafetensorsCheckpoint reference(String referenceModel) {
    return REFERENCES.computeIfAbsent(referenceModel, key -> {
      Path directory = root().resolve("reference").resolve(key);
      return SafetensorsCheckpoint.openFiles(directory, List.of(directory.resolve("reference.safetensors")));
    });
  }

  static SafetensorsCheckpoint preprocess() {
    return REFERENCES.computeIfAbsent("preprocess", key -> SafetensorsCheckpoint.openFiles(root().resolve("reference"),
        List.of(root().resolve("reference").resolve("preprocess.safetensors"))));
  }

  static float[] floats(SafetensorsCheckpoint source, String key) {
    return source.tensor(key).toFloatArray();
  }

  static long[] longs(SafetensorsCheckpoint source, String key) {
    StridedTensor tensor = source.tensor(key);
    long[] values = new long[Math.toIntExact(tensor.numel())];
    for (int i = 0; i < values.length; i++) {
      values[i] = tensor.getLong(i);
    }
    return values;
  }

  /** The image of the {@code image} case as model input. */
  static ImageInput image(SafetensorsCheckpoint reference) {
    long[] grid = longs(reference, "image.image_grid_thw");
    List<GridThw> grids = new ArrayList<>();
    for (int i = 0; i < grid.length; i += 3) {
      grids.add(new GridThw((int) grid[i], (int) grid[i + 1], (int) grid[i + 2]));
    }
    StridedTensor pixels = reference.tensor("image.pixel_values");
    return new ImageInput(pixels.toFloatArray(), (int) pixels.shape().dim(1), grids);
  }

  static double maxAbsDifference(float[] actual, float[] expected) {
    if (actual.length != expected.length) {
      throw new AssertionError("length " + actual.length + " vs " + expected.length);
    }
    double max = 0;
    for (int i = 0; i < actual.length; i++) {
      double difference = Math.abs((double) actual[i] - expected[i]);
      if (Double.isNaN(difference)) {
        return Double.POSITIVE_INFINITY;
      }
      max = Math.max(max, difference);
    }
    return max;
  }

  static double maxAbs(float[] values) {
    double max = 0;
    for (float value : values) {
      max = Math.max(max, Math.abs(value));
    }
    return max;
  }
}
