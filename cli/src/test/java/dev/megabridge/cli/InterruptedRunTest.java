package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.bench.SyntheticCheckpoint;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.RoundTrip;
import dev.megabridge.core.io.TemporaryFolders;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 3: the real CLI in a child JVM, stopped by SIGTERM or SIGKILL while it writes. SIGTERM removes the
 * temporary output and says so; after SIGKILL the next run writing the same output removes the stale temporary
 * folder and says so. The moment is picked by watching the temporary folder fill, on a synthetic checkpoint large
 * enough (the tiny fixture's shapes with a 2M-token vocabulary: 512 MiB) that the run is still writing then.
 */
class InterruptedRunTest {

  @TempDir
  static Path shared;

  @TempDir
  Path temp;

  static Path source;

  @BeforeAll
  static void syntheticSource() throws IOException {
    ObjectNode config = (ObjectNode) HfConfig.JSON.readTree(
        Files.readString(fixture("qwen35_dense_vl").resolve("config.json")));
    ((ObjectNode) config.get("text_config")).put("vocab_size", 2_000_000);
    source = shared.resolve("large");
    SyntheticCheckpoint.write(config, source, 7);
  }

  /** A started child JVM running {@code megabridge args}, its stderr going to a file. */
  private record Child(Process process, Path stderr) {
    String err() {
      try {
        return Files.readString(stderr, StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "(stderr unreadable: " + e + ")";
      }
    }
  }

  private Child start(Map<String, String> environment, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
        "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
        "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    command.addAll(List.of(args));
    Path stderr = Files.createTempFile(temp, "stderr-", ".txt");
    ProcessBuilder builder = new ProcessBuilder(command).redirectError(stderr.toFile())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD);
    builder.environment().putAll(environment);
    return new Child(builder.start(), stderr);
  }

  private static List<Path> entries(Path folder, String prefix) throws IOException {
    if (!Files.isDirectory(folder)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(folder)) {
      return files.filter(path -> path.getFileName().toString().startsWith(prefix)).toList();
    }
  }

  private static long bytesUnder(Path folder) {
    try (Stream<Path> files = Files.walk(folder)) {
      return files.filter(Files::isRegularFile).mapToLong(file -> file.toFile().length()).sum();
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /**
   * Waits until a folder named {@code prefix*} in {@code folder} holds more than 1 MiB (the run is writing), or the
   * child ends; returns the folder, or empty when the child ended first.
   */
  private static Optional<Path> awaitWriting(Child child, Path folder, String prefix) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (child.process().isAlive() && System.nanoTime() < deadline) {
      for (Path candidate : entries(folder, prefix)) {
        if (bytesUnder(candidate) > (1 << 20)) {
          return Optional.of(candidate);
        }
      }
      Thread.sleep(2);
    }
    return Optional.empty();
  }

  @Test
  void sigtermDuringImportRemovesTheTemporaryOutput() throws Exception {
    Path output = temp.resolve("out");
    Child child = start(Map.of(), "import", source.toString(), output.toString(), "--quiet");
    Path staging = awaitWriting(child, temp, ".out.tmp-").orElseThrow(
        () -> new AssertionError("the import ended before it was seen writing: " + child.err()));
    child.process().destroy();
    assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(child.process().exitValue()).as(child.err()).isEqualTo(143);
    assertThat(child.err()).contains("interrupted: removed " + staging + " (the temporary folder of output " + output
        + ")");
    assertThat(entries(temp, ".out.")).isEmpty();
    assertThat(output).doesNotExist();
  }

  @Test
  void afterSigkillTheNextRunRemovesTheStaleTemporaryOutput() throws Exception {
    Path output = temp.resolve("out");
    Child child = start(Map.of(), "import", source.toString(), output.toString(), "--quiet");
    Path staging = awaitWriting(child, temp, ".out.tmp-").orElseThrow(
        () -> new AssertionError("the import ended before it was seen writing: " + child.err()));
    child.process().destroyForcibly();
    assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(staging.resolve(TemporaryFolders.OWNER_FILE)).as("SIGKILL leaves it, with its owner").exists();

    Run next = run("import", source.toString(), output.toString(), "--quiet");
    assertThat(next.exitCode()).as(next.err()).isZero();
    assertThat(next.err()).contains("removed stale temporary folder " + staging
        + " (left by an interrupted run whose process is gone)");
    assertThat(entries(temp, ".out.")).isEmpty();
    assertThat(output.resolve("megabridge.json")).exists();
  }

  @Test
  void sigtermDuringRoundTripRemovesTheScratchFolderInTmpdir() throws Exception {
    Path tmpdir = Files.createDirectory(temp.resolve("tmpdir"));
    Child child = start(Map.of("TMPDIR", tmpdir.toString()), "roundtrip", source.toString(), "--quiet");
    Path scratch = awaitWriting(child, tmpdir, "megabridge-roundtrip-").orElseThrow(
        () -> new AssertionError("the round trip ended before it was seen writing: " + child.err()));
    child.process().destroy();
    assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(child.err()).contains("interrupted: removed " + scratch + " (the round trip's scratch folder)");
    try (Stream<Path> left = Files.list(tmpdir)) {
      assertThat(left.toList()).isEmpty();
    }
  }

  @Test
  void roundTripTakesAWorkFolderAndRemovesStaleScratchFoldersThere() throws Exception {
    Path work = Files.createDirectory(temp.resolve("work"));
    Process finished = new ProcessBuilder("true").start();
    finished.waitFor();
    Path stale = Files.createDirectory(work.resolve(RoundTrip.SCRATCH_PREFIX + "killed"));
    Files.writeString(stale.resolve(TemporaryFolders.OWNER_FILE), "pid=" + finished.pid() + "\nstart_epoch_ms=\nhost="
        + TemporaryFolders.Owner.current().host() + "\n");
    Path unowned = Files.createDirectory(work.resolve(RoundTrip.SCRATCH_PREFIX + "unowned"));
    Run roundTrip = run("roundtrip", fixture("qwen35_dense_vl").toString(), "--work", work.toString(), "--quiet");
    assertThat(roundTrip.exitCode()).as(roundTrip.err()).isZero();
    assertThat(roundTrip.err()).contains("removed stale temporary folder " + stale)
        .contains("kept temporary folder " + unowned + ": it has no readable .megabridge-owner file");
    try (Stream<Path> left = Files.list(work)) {
      assertThat(left.toList()).containsExactly(unowned);
    }
  }
}
