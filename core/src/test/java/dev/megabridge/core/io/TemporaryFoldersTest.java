package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TemporaryFolders}: who owns a temporary folder, and when its owner counts as gone. */
class TemporaryFoldersTest {

  @TempDir Path temp;

  private static final String HOST = TemporaryFolders.Owner.current().host();

  @Test
  void theCurrentProcessIsNotGone() {
    assertThat(TemporaryFolders.Owner.current().isGone()).isFalse();
  }

  @Test
  void aPidThatIsNotAliveIsGone() throws Exception {
    Process finished = new ProcessBuilder("true").start();
    finished.waitFor();
    assertThat(new TemporaryFolders.Owner(finished.pid(), Optional.of(Instant.now()), HOST).isGone()).isTrue();
    assertThat(new TemporaryFolders.Owner(finished.pid(), Optional.empty(), HOST).isGone()).isTrue();
  }

  @Test
  void anAlivePidWithAnotherStartTimeIsGone() {
    ProcessHandle self = ProcessHandle.current();
    Instant start = self.info().startInstant().orElseThrow();
    assertThat(new TemporaryFolders.Owner(self.pid(), Optional.of(start.minus(Duration.ofHours(1))), HOST).isGone())
        .as("pid reused by a later process").isTrue();
    assertThat(new TemporaryFolders.Owner(self.pid(), Optional.of(start.plusMillis(900)), HOST).isGone())
        .as("within the boot-time jitter").isFalse();
    assertThat(new TemporaryFolders.Owner(self.pid(), Optional.empty(), HOST).isGone())
        .as("alive, start time unknown").isFalse();
  }

  @Test
  void anotherHostsProcessIsNeverGone() throws Exception {
    Process finished = new ProcessBuilder("true").start();
    finished.waitFor();
    assertThat(new TemporaryFolders.Owner(finished.pid(), Optional.empty(), HOST + "-elsewhere").isGone()).isFalse();
  }

  @Test
  void theOwnerFileRoundTripsAndIncompleteOnesAreUnreadable() throws Exception {
    TemporaryFolders.Registration registration = TemporaryFolders.create(temp, "scratch-", "a test folder");
    try {
      assertThat(TemporaryFolders.readOwner(registration.folder())).contains(TemporaryFolders.Owner.current());
    } finally {
      registration.release();
    }
    Files.writeString(registration.folder().resolve(TemporaryFolders.OWNER_FILE), "pid=12\n");
    assertThat(TemporaryFolders.readOwner(registration.folder())).isEmpty();
    Files.writeString(registration.folder().resolve(TemporaryFolders.OWNER_FILE), "pid=x\nstart_epoch_ms=\nhost=h\n");
    assertThat(TemporaryFolders.readOwner(registration.folder())).isEmpty();
  }

  @Test
  void deletionToleratesAWriterThatKeepsAddingFiles() throws Exception {
    Path folder = Files.createDirectories(temp.resolve("busy/sub"));
    Thread writer = Thread.ofPlatform().start(() -> {
      for (int index = 0; index < 200; index++) {
        try {
          Files.writeString(folder.resolve("f" + index), "x");
        } catch (java.io.IOException gone) {
          return;
        }
      }
    });
    boolean deleted = TemporaryFolders.deleteBestEffort(temp.resolve("busy"));
    writer.join();
    assertThat(deleted).isTrue();
    assertThat(temp.resolve("busy")).doesNotExist();
  }

  @Test
  void systemTempFollowsTmpdir() {
    String tmpdir = System.getenv("TMPDIR");
    assertThat(TemporaryFolders.systemTemp()).isEqualTo(Path.of(tmpdir != null && !tmpdir.isBlank() ? tmpdir
        : System.getProperty("java.io.tmpdir")));
  }
}
