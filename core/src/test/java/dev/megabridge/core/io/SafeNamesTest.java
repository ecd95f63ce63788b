package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.CheckpointFormatException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@link SafeNames}: only names that stay directly inside their folder. */
class SafeNamesTest {

  @Test
  void plainNames() {
    for (String name : new String[] {"config.json", "mp_rank_00_000", "model-00001-of-00002.safetensors",
        "__0_0.distcp", ".hidden", "a..b"}) {
      assertThat(SafeNames.isPlainName(name)).as(name).isTrue();
    }
  }

  @Test
  void namesThatLeaveTheFolder() {
    for (String name : new String[] {"", ".", "..", "../../P", "/etc/passwd", "a/b", "a\\b", "..\\x", "a\0b"}) {
      assertThat(SafeNames.isPlainName(name)).as(name).isFalse();
    }
    assertThat(SafeNames.isPlainName(null)).isFalse();
  }

  @Test
  void theErrorNamesTheFileAndTheEntry() {
    Path manifest = Path.of("/x/megabridge.json");
    assertThatThrownBy(() -> SafeNames.requirePlainName(manifest, "hf_files entry", "../../P"))
        .isInstanceOf(CheckpointFormatException.class)
        .hasMessage("/x/megabridge.json: hf_files entry '../../P' is not a plain file name (no '..', no separators,"
            + " not absolute)");
  }
}
