package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checksums passed to {@link FileSink#write} are batched; after {@link FileSink#completeChecksum()} they are exact. */
class FileSinkChecksumTest {

  @TempDir
  Path temp;

  @Test
  void batchedChecksumsMatchTheirBytesAcrossBlocksAndInterleaving() {
    Random random = new Random(9);
    byte[] bytes = new byte[(FileSink.BLOCK_BYTES * 2) + 12345];
    random.nextBytes(bytes);
    MemorySegment source = MemorySegment.ofArray(bytes);
    CRC32 first = new CRC32();
    CRC32 second = new CRC32();
    CRC32 expectedFirst = new CRC32();
    CRC32 expectedSecond = new CRC32();
    for (boolean direct : new boolean[] {true, false}) {
      first.reset();
      second.reset();
      expectedFirst.reset();
      expectedSecond.reset();
      try (FileSink sink = FileSink.create(temp.resolve("file-" + direct), direct)) {
        long position = 0;
        int turn = 0;
        while (position < bytes.length) {
          int length = (int) Math.min(bytes.length - position, turn % 5 == 0 ? 700_000 : 1 + random.nextInt(3000));
          // Runs for two checksums interleave, with unchecked bytes between some of them.
          CRC32 crc = turn % 7 == 6 ? null : turn % 2 == 0 ? first : second;
          sink.write(source, position, length, crc);
          if (crc != null) {
            (crc == first ? expectedFirst : expectedSecond).update(bytes, (int) position, length);
          }
          position += length;
          turn++;
        }
        sink.completeChecksum();
        assertThat(first.getValue()).isEqualTo(expectedFirst.getValue());
        assertThat(second.getValue()).isEqualTo(expectedSecond.getValue());
      }
    }
  }
}
