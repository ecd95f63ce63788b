package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The launcher's stderr filter, run by bash on its own (the CLI tests do not go through the launcher): it drops the
 * JVM's incubator warning line and passes everything else byte for byte, partial lines included.
 */
class LauncherTest {

  private static final String WARNING = "WARNING: Using incubator modules: jdk.incubator.vector\n";

  /** The function {@code drop_incubator_warning} as written in the launcher, run on {@code input}. */
  private static String filter(String input) throws IOException, InterruptedException {
    Path launcher = Path.of(System.getProperty("megabridge.fixtures", "../fixtures")).resolveSibling("megabridge");
    String script = Files.readString(launcher);
    int start = script.indexOf("drop_incubator_warning() {");
    assertThat(start).as("drop_incubator_warning in " + launcher).isNotNegative();
    String function = script.substring(start, script.indexOf("\n}\n", start) + 3);
    Process bash = new ProcessBuilder("bash", "-c", "set -euo pipefail\n" + function + "drop_incubator_warning")
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    bash.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
    bash.getOutputStream().close();
    String output = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(bash.waitFor()).isZero();
    return output;
  }

  @Test
  void theIncubatorWarningIsDroppedAndNothingElse() throws IOException, InterruptedException {
    assertThat(filter(WARNING + "Usage: megabridge\n")).isEqualTo("Usage: megabridge\n");
    assertThat(filter("NOTE: Picked up JDK_JAVA_OPTIONS: -Xmx2g\n" + WARNING + "error: x\n"))
        .isEqualTo("NOTE: Picked up JDK_JAVA_OPTIONS: -Xmx2g\nerror: x\n");
    // Only the first warning is the JVM's; a later identical line is the program's and stays.
    assertThat(filter(WARNING + "a\n" + WARNING)).isEqualTo("a\n" + WARNING);
    assertThat(filter("WARNING: Using incubator modules: jdk.incubator.vectorX\n"))
        .isEqualTo("WARNING: Using incubator modules: jdk.incubator.vectorX\n");
    assertThat(filter(WARNING + "import  42% [====>   ]\rimport 100% [========]")).isEqualTo(
        "import  42% [====>   ]\rimport 100% [========]");
    assertThat(filter("WARN")).isEqualTo("WARN");
    assertThat(filter("é " + WARNING)).isEqualTo("é " + WARNING);
  }
}
