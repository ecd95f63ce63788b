package dev.megabridge.core.architecture;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Layering rules, checked on the sources: core knows nothing model-specific and prints nothing; only the
 * CLI (and benchmarks) write to the console. Each rule is also aimed at a planted violation, so that no rule
 * is only ever seen to pass.
 */
class ArchitectureTest {

  private static final Pattern MODEL_SPECIFIC_IMPORT =
      Pattern.compile("(?m)^import\\s+(static\\s+)?dev\\.megabridge\\.(qwen35|runtime|cli|bench)\\b");
  private static final Pattern CONSOLE_OUTPUT = Pattern.compile("System\\.(out|err)\\.print");

  private static Path root() {
    return Path.of(System.getProperty("megabridge.root", ".."));
  }

  private static List<String> violations(Path sources, Pattern rule) throws IOException {
    List<String> out = new ArrayList<>();
    try (Stream<Path> files = Files.walk(sources)) {
      // Benchmark entry points (packages named bench) report on the console by design.
      for (Path file : files.filter(path -> path.toString().endsWith(".java"))
          .filter(path -> !path.toString().contains("/bench/")).toList()) {
        if (rule.matcher(Files.readString(file)).find()) {
          out.add(sources.relativize(file).toString());
        }
      }
    }
    return out;
  }

  @Test
  void coreDependsOnNothingModelSpecific() throws IOException {
    assertThat(violations(root().resolve("core/src/main/java"), MODEL_SPECIFIC_IMPORT)).isEmpty();
  }

  @Test
  void onlyTheCliAndBenchmarksWriteToTheConsole() throws IOException {
    for (String module : List.of("core", "qwen35", "runtime")) {
      assertThat(violations(root().resolve(module).resolve("src/main/java"), CONSOLE_OUTPUT)).as(module)
          .isEmpty();
    }
  }

  @Test
  void rulesCatchPlantedViolations() {
    assertThat(MODEL_SPECIFIC_IMPORT.matcher("package x;\nimport dev.megabridge.qwen35.Qwen35Config;\n").find())
        .isTrue();
    assertThat(MODEL_SPECIFIC_IMPORT.matcher("import dev.megabridge.core.tensor.Tensor;\n").find()).isFalse();
    assertThat(CONSOLE_OUTPUT.matcher("  System.out.println(value);").find()).isTrue();
    assertThat(CONSOLE_OUTPUT.matcher("  logger.info(value);").find()).isFalse();
  }
}
