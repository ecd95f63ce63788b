package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.tensor.FileOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The file a {@link FileSink} leaves is exactly the concatenation of what was written, whichever path each run
 * took (copy from heap or native memory, pread from the file a run's origin names) and whether the blocks went
 * through {@code O_DIRECT} or the page cache; the CRC it accumulates is the CRC of those bytes.
 */
class FileSinkTest {

  @TempDir
  Path temp;

  @ParameterizedTest(name = "tryDirect={0}")
  @ValueSource(booleans = {true, false})
  void writesExactlyTheStreamAcrossBlocksAndPaths(boolean tryDirect) throws IOException {
    SplittableRandom random = new SplittableRandom(11);
    byte[] mappedBytes = new byte[(3 * FileSink.BLOCK_BYTES) / 2 + 12345];
    random.nextBytes(mappedBytes);
    Path sourceFile = Files.write(temp.resolve("source.bin"), mappedBytes);
    ByteArrayOutputStream expected = new ByteArrayOutputStream();
    CRC32 expectedCrc = new CRC32();
    CRC32 actualCrc = new CRC32();
    Path file = temp.resolve("out-" + tryDirect + ".bin");
    boolean direct;
    try (Arena arena = Arena.ofConfined();
        FileChannel channel = FileChannel.open(sourceFile, StandardOpenOption.READ)) {
      MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, mappedBytes.length, arena);
      FileOrigin origin = new FileOrigin(sourceFile, 0);
      try (FileSink sink = FileSink.create(file, tryDirect)) {
        direct = sink.direct();
        for (int step = 0; step < 60; step++) {
          switch (step % 4) {
            case 0 -> {
              // A few bytes from the heap: headers, descriptors.
              byte[] small = new byte[random.nextInt(1, 200)];
              random.nextBytes(small);
              sink.write(small);
              expected.write(small);
              expectedCrc.update(small);
              actualCrc.update(small);
            }
            case 1 -> {
              // A run of the mapped file large enough for pread, at an odd offset.
              int offset = random.nextInt(0, 4096);
              int length = random.nextInt(256 << 10, 2 << 20);
              sink.write(mapped, offset, length, actualCrc, origin);
              expected.write(mappedBytes, offset, length);
              expectedCrc.update(mappedBytes, offset, length);
            }
            case 2 -> {
              // A float[]-backed heap segment (no ByteBuffer view).
              float[] values = new float[random.nextInt(1, 70_000)];
              for (int index = 0; index < values.length; index++) {
                values[index] = (float) random.nextDouble();
              }
              MemorySegment heap = MemorySegment.ofArray(values);
              sink.write(heap, 0, heap.byteSize(), actualCrc);
              byte[] bytes = heap.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
              expected.write(bytes);
              expectedCrc.update(bytes);
            }
            default -> {
              // A short run of the mapping (copied through it) and, three times, the rest of the mapping across block edges.
              int offset = random.nextInt(0, mappedBytes.length - 5000);
              long length = step % 24 == 7 ? mappedBytes.length - offset : random.nextInt(1, 5000);
              sink.write(mapped, offset, length, actualCrc, origin);
              expected.write(mappedBytes, offset, (int) length);
              expectedCrc.update(mappedBytes, offset, (int) length);
            }
          }
          assertThat(sink.position()).isEqualTo(expected.size());
        }
      }
    }
    assertThat(expected.size()).isGreaterThan(2 * FileSink.BLOCK_BYTES).isNotZero();
    assertThat(expected.size() % 4096).isNotZero();
    assertThat(Files.readAllBytes(file)).isEqualTo(expected.toByteArray());
    assertThat(actualCrc.getValue()).isEqualTo(expectedCrc.getValue());
    if (!tryDirect) {
      assertThat(direct).isFalse();
    } else if (Set.of("ext4", "xfs", "btrfs").contains(Files.getFileStore(temp).type())) {
      // These file systems take O_DIRECT: the fast path must be the one tested here.
      assertThat(direct).as("O_DIRECT on " + Files.getFileStore(temp).type()).isTrue();
    }
  }

  @Test
  void anEmptyStreamLeavesAnEmptyFile() throws IOException {
    Path file = temp.resolve("empty.bin");
    try (FileSink sink = FileSink.create(file)) {
      assertThat(sink.position()).isZero();
    }
    assertThat(Files.size(file)).isZero();
  }

  @Test
  void refusesAnExistingFileAndLeavesItAlone() throws IOException {
    Path file = Files.writeString(temp.resolve("keep.bin"), "keep");
    assertThatThrownBy(() -> FileSink.create(file)).isInstanceOf(UncheckedIOException.class)
        .hasMessageContaining(file.toString());
    assertThat(Files.readString(file)).isEqualTo("keep");
  }

  @Test
  void aMappedRunPastTheEndOfItsFileIsAnErrorNamingTheFile() throws IOException {
    byte[] bytes = new byte[1 << 20];
    Path sourceFile = Files.write(temp.resolve("short.bin"), bytes);
    try (Arena arena = Arena.ofConfined();
        FileChannel channel = FileChannel.open(sourceFile, StandardOpenOption.READ)) {
      MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, bytes.length, arena);
      // The file shrinks under the mapping: pread finds its end before the run's.
      try (FileChannel shrink = FileChannel.open(sourceFile, StandardOpenOption.WRITE)) {
        shrink.truncate(bytes.length / 2);
      }
      Path file = temp.resolve("out.bin");
      assertThatThrownBy(() -> {
        try (FileSink sink = FileSink.create(file)) {
          sink.write(mapped, 0, bytes.length, null, new FileOrigin(sourceFile, 0));
        }
      }).isInstanceOf(UncheckedIOException.class).hasMessageContaining(sourceFile.toString());
    }
  }
}
