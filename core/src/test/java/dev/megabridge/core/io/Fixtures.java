package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's {@code fixtures/} folder, found through the {@code megabridge.fixtures} property. */
public final class Fixtures {

  private Fixtures() {}

  public static Path root() {
    String property = System.getProperty("megabridge.fixtures");
    assertThat(property).as("system property megabridge.fixtures (set by surefire)").isNotNull();
    Path root = Path.of(property);
    assertThat(Files.isDirectory(root)).as("fixtures folder %s", root).isTrue();
    return root;
  }

  /** {@code fixtures/qwen35-tiny/<name>}. */
  public static Path tiny(String name) {
    return root().resolve("qwen35-tiny").resolve(name);
  }

  /** The six tiny Qwen3.5-VL checkpoints. */
  public static final java.util.List<String> TINY_MODELS = java.util.List.of("qwen35_dense_vl",
      "qwen35_dense_vl_bf16", "qwen35_dense_vl_bf16_sharded", "qwen35_moe_vl", "qwen35_moe_vl_bf16",
      "qwen35_moe_vl_packed_bf16");
}
