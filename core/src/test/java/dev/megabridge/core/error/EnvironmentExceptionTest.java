package dev.megabridge.core.error;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import org.junit.jupiter.api.Test;

/** {@link EnvironmentException#reason}: which I/O failures are the machine's, as the JDK reports them. */
class EnvironmentExceptionTest {

  @Test
  void diskFullAsTheJdkReportsIt() {
    // FileChannel.write on a full disk throws a plain IOException with strerror(ENOSPC) as its message.
    IOException write = new IOException("No space left on device");
    assertThat(EnvironmentException.reason(write)).contains("No space left on device (ENOSPC)");
    assertThat(EnvironmentException.reason(new UncheckedIOException("/out/x: write failed: No space left on device",
        write))).contains("No space left on device (ENOSPC)");
    assertThat(EnvironmentException.describe(new UncheckedIOException("/out/x: write failed: No space left on device",
        write))).contains("/out/x: write failed: No space left on device (ENOSPC)");
  }

  @Test
  void fileSystemReasons() {
    assertThat(EnvironmentException.reason(new FileSystemException("/a", "/b", "Device or resource busy")))
        .contains("Device or resource busy (EBUSY)");
    assertThat(EnvironmentException.reason(new FileSystemException("/a", null, "Read-only file system")))
        .contains("Read-only file system (EROFS)");
    assertThat(EnvironmentException.reason(new AccessDeniedException("/a"))).contains("Permission denied (EACCES)");
    assertThat(EnvironmentException.reason(new FileSystemException("/a", null, "Disk quota exceeded")))
        .contains("Disk quota exceeded (EDQUOT)");
    assertThat(EnvironmentException.describe(new UncheckedIOException("cannot move /a to /b",
        new FileSystemException("/a", "/b", "Device or resource busy"))))
        .contains("cannot move /a to /b: Device or resource busy (EBUSY)");
  }

  @Test
  void otherFailuresAreNotTheEnvironments() {
    assertThat(EnvironmentException.reason(new NoSuchFileException("/a"))).isEmpty();
    assertThat(EnvironmentException.reason(new IOException("file ends 12 bytes before the mapped run"))).isEmpty();
    assertThat(EnvironmentException.reason(new IllegalStateException("x"))).isEmpty();
  }

  @Test
  void exitCodeFour() {
    assertThat(new EnvironmentException("x").exitCode().code()).isEqualTo(4);
  }
}
