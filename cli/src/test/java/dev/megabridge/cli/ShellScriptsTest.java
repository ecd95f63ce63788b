package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every shell script of the repository (the launcher, CI, scripts/, examples/) passes shellcheck. Skipped only where
 * shellcheck is not installed (Debian's {@code shellcheck} package provides it): there is nothing to run then.
 */
class ShellScriptsTest {

  private static final Path ROOT = Path.of(System.getProperty("megabridge.root"));

  @Test
  void everyShellScriptPassesShellcheck() throws Exception {
    assumeTrue(onPath("shellcheck"), "shellcheck is not installed (apt install shellcheck)");
    List<String> command = new ArrayList<>(List.of("shellcheck"));
    command.add(ROOT.resolve("megabridge").toString());
    command.add(ROOT.resolve(".ci/run").toString());
    for (String folder : List.of("scripts", "examples")) {
      try (Stream<Path> files = Files.walk(ROOT.resolve(folder))) {
        files.filter(file -> file.toString().endsWith(".sh")).sorted().forEach(file -> command.add(file.toString()));
      }
    }
    assertThat(command).anyMatch(argument -> argument.endsWith("run_geo3k_qwen35.sh"));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
    assertThat(process.exitValue()).as(output).isZero();
  }

  private static boolean onPath(String program) throws IOException {
    String path = System.getenv("PATH");
    if (path == null) {
      return false;
    }
    for (String directory : path.split(":")) {
      if (!directory.isEmpty() && Files.isExecutable(Path.of(directory, program))) {
        return true;
      }
    }
    return false;
  }
}
