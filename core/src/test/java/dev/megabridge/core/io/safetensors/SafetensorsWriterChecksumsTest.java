package dev.megabridge.core.io.safetensors;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.Crc32;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterChecksumsTest {

  @TempDir
  Path temp;

  @Test
  void checksumsTakenWhileWritingMatchTheFile() throws Exception {
    Random random = new Random(5);
    byte[] big = new byte[20 << 20];
    random.nextBytes(big);
    byte[] small = new byte[6 * 7 * 4];
    random.nextBytes(small);
    Tensor large = Tensor.of(DType.BF16, Shape.of(10 << 20), MemorySegment.ofArray(big));
    // A strided view: its runs are rows of a transposed layout.
    Tensor strided = Tensor.of(DType.F32, Shape.of(6, 7), MemorySegment.ofArray(small)).slice(1, 2, 4);
    Path file = temp.resolve("rank.safetensors");
    SafetensorsWriter.FileChecksums sums = SafetensorsWriter.writeFileWithChecksums(file, List.of(
        new SafetensorsWriter.Entry("large", large), new SafetensorsWriter.Entry("strided", strided)),
        Map.of("format", "pt"), bytes -> { });

    byte[] written = Files.readAllBytes(file);
    assertThat(sums.bytes()).isEqualTo(written.length);
    assertThat(sums.fileCrc32()).isEqualTo(Crc32.of(MemorySegment.ofArray(written)));
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.openFiles(temp, List.of(file))) {
      for (String name : List.of("large", "strided")) {
        assertThat(sums.tensorCrc32().get(name)).as(name)
            .isEqualTo(Crc32.of(checkpoint.tensor(name).contiguousSegment()));
      }
      long headerEnd = written.length - large.byteSize() - strided.byteSize();
      assertThat(sums.headerCrc32()).isEqualTo(Crc32.of(MemorySegment.ofArray(written).asSlice(0, headerEnd)));
    }
  }
}
