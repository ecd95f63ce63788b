package dev.megabridge.cli;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** Fixture access and stdout capture for CLI tests. */
final class CliFixtures {

  private CliFixtures() {}

  static Path tiny() {
    return Path.of(System.getProperty("megabridge.fixtures")).resolve("qwen35-tiny");
  }

  static SafetensorsCheckpoint reference(String model) {
    Path directory = tiny().resolve("reference").resolve(model);
    return SafetensorsCheckpoint.openFiles(directory, List.of(directory.resolve("reference.safetensors")));
  }

  static long[] longs(SafetensorsCheckpoint source, String key) {
    var tensor = source.tensor(key);
    long[] values = new long[Math.toIntExact(tensor.numel())];
    for (int i = 0; i < values.length; i++) {
      values[i] = tensor.getLong(i);
    }
    return values;
  }

  static double maxAbsDifference(float[] actual, float[] expected) {
    if (actual.length != expected.length) {
      throw new AssertionError("length " + actual.length + " vs " + expected.length);
    }
    double max = 0;
    for (int i = 0; i < actual.length; i++) {
      double difference = Math.abs((double) actual[i] - expected[i]);
      max = Double.isNaN(difference) ? Double.POSITIVE_INFINITY : Math.max(max, difference);
    }
    return max;
  }

  /** Exit code and stdout of one command line. */
  record Run(int exitCode, String stdout) {}

  static synchronized Run execute(String... args) {
    PrintStream previous = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      int code = Main.execute(args);
      return new Run(code, captured.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(previous);
      System.out.print(captured.toString(StandardCharsets.UTF_8));
    }
  }
}
