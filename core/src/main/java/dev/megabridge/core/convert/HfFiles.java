package dev.megabridge.core.convert;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/** The small non-weight files of an HF folder (config, tokenizer, processor, generation config, ...). */
public final class HfFiles {
  private HfFiles() {}

  /** Regular files of {@code directory} that are not weights or the weight index, sorted by name. */
  public static List<String> smallFiles(Path directory) {
    try (Stream<Path> files = Files.list(directory)) {
      return files.filter(Files::isRegularFile)
          .map(path -> path.getFileName().toString())
          .filter(name -> !isWeightFile(name))
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + directory, e);
    }
  }

  static boolean isWeightFile(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return lower.endsWith(".safetensors") || lower.equals(SafetensorsCheckpoint.INDEX_FILE)
        || lower.endsWith(".bin") || lower.endsWith(".pt") || lower.endsWith(".pth") || lower.endsWith(".gguf")
        || lower.startsWith(".");
  }

  public static void copy(Path from, Path to, List<String> names) {
    try {
      Files.createDirectories(to);
      for (String name : names) {
        Files.copy(from.resolve(name), to.resolve(name));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy files from " + from + " to " + to, e);
    }
  }
}
