package dev.megabridge.core.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.Fixtures;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SourceIdentityTest {

  @TempDir
  Path temp;

  private static String identity(Path folder) {
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(folder)) {
      return SourceIdentity.of(checkpoint, HfTensorInfo.of(checkpoint).values());
    }
  }

  @Test
  void aCopyHasTheSameIdentityAndAChangedValueAnother() throws IOException {
    Path original = Fixtures.tiny("qwen35_dense_vl_bf16");
    Path copy = temp.resolve("copy");
    Files.createDirectories(copy);
    Files.copy(original.resolve("model.safetensors"), copy.resolve("model.safetensors"));
    // Modification times are not part of the identity: a copy on another node agrees.
    Files.setLastModifiedTime(copy.resolve("model.safetensors"), FileTime.fromMillis(0));
    String identity = identity(original);
    assertThat(identity).startsWith("sha256:").hasSize("sha256:".length() + 64);
    assertThat(identity(copy)).isEqualTo(identity);

    // The last byte of the file is the end of the last tensor's last row.
    try (RandomAccessFile file = new RandomAccessFile(copy.resolve("model.safetensors").toFile(), "rw")) {
      file.seek(file.length() - 1);
      int value = file.read();
      file.seek(file.length() - 1);
      file.write(value ^ 0x10);
    }
    assertThat(identity(copy)).isNotEqualTo(identity);
  }
}
