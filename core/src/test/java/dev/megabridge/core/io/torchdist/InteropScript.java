package dev.megabridge.core.io.torchdist;

import static org.assertj.core.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs {@code scripts/torchdist/interop.sh}, the real-PyTorch side of the interop tests. The only accepted reason
 * to skip is a machine without {@code python3} (script exit status 3); any other setup failure fails the test.
 */
public final class InteropScript {
  private static final int NO_PYTHON = 3;

  private InteropScript() {}

  /** Creates (or reuses) the torch venv and returns the script's path. */
  public static Path setUp() throws Exception {
    Path script = Path.of(System.getProperty("megabridge.root")).resolve("scripts/torchdist/interop.sh");
    Result setup = run(List.of(script.toString(), "setup"), 1800);
    Assumptions.assumeTrue(setup.exitCode() != NO_PYTHON, "no python3 on this machine: " + setup.output());
    if (setup.exitCode() != 0) {
      fail("creating the torch venv failed (exit " + setup.exitCode() + "):\n" + setup.output());
    }
    return script;
  }

  /** Exit code and combined output of one run. */
  public record Result(int exitCode, String output) {}

  public static Result run(List<String> command, long timeoutSeconds) throws Exception {
    Path log = Files.createTempFile("interop", ".log");
    try {
      Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        fail(command + " did not finish within " + timeoutSeconds + " s:\n" + Files.readString(log));
      }
      return new Result(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(log);
    }
  }

  /** Runs {@code script arguments...} and fails the test with its output unless it exits 0. */
  public static void runOk(Path script, List<String> arguments) throws Exception {
    List<String> command = new ArrayList<>(List.of(script.toString()));
    command.addAll(arguments);
    Result result = run(command, 600);
    if (result.exitCode() != 0) {
      fail(String.join(" ", command) + " failed (exit " + result.exitCode() + "):\n" + result.output());
    }
  }
}
