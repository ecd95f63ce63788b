package dev.megabridge.qwen35;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the repository's fixtures folder (set by surefire as {@code megabridge.fixtures}). */
public final class Fixtures {
  private Fixtures() {}

  public static Path root() {
    String configured = System.getProperty("megabridge.fixtures");
    Path root = configured != null ? Path.of(configured) : Path.of("..", "fixtures");
    if (!Files.isDirectory(root)) {
      throw new IllegalStateException("fixtures folder not found: " + root.toAbsolutePath());
    }
    return root;
  }

  public static Path tiny(String name) {
    return root().resolve("qwen35-tiny").resolve(name);
  }

  public static Path realConfig(String name) {
    return root().resolve("qwen35-configs").resolve(name);
  }
}
