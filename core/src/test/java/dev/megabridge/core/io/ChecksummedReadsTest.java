package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.CheckpointFormatException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChecksummedReadsTest {

  @TempDir
  Path temp;

  private static MemorySegment randomRegion(Arena arena, int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    MemorySegment region = arena.allocate(size);
    MemorySegment.copy(MemorySegment.ofArray(bytes), 0, region, 0, size);
    return region;
  }

  /** Cuts {@code [0, size)} into runs of random length, some overlapping their neighbour, in random order. */
  private static List<long[]> shuffledRuns(long size, long seed) {
    Random random = new Random(seed);
    List<long[]> runs = new ArrayList<>();
    long position = 0;
    while (position < size) {
      long length = Math.min(size - position, 1 + random.nextInt(700));
      long start = random.nextInt(4) == 0 ? Math.max(0, position - random.nextInt(100)) : position;
      runs.add(new long[] {start, position + length - start});
      position += length;
    }
    Collections.shuffle(runs, random);
    return runs;
  }

  private static void observeAll(MemorySegment region, List<long[]> runs) {
    for (long[] run : runs) {
      // What a writer reports: the source run and the bytes where it copied them.
      MemorySegment copy = MemorySegment.ofArray(region.asSlice(run[0], run[1]).toArray(ValueLayout.JAVA_BYTE));
      ChecksummedReads.observe(region, run[0], run[1], copy);
    }
  }

  @Test
  void runsInAnyOrderWithOverlapsVerifyTheRegion() {
    try (Arena arena = Arena.ofConfined(); ChecksummedReads checks = new ChecksummedReads()) {
      MemorySegment region = randomRegion(arena, 20_000, 1);
      checks.register(region, Crc32.of(region), "file [entry]");
      observeAll(region, shuffledRuns(region.byteSize(), 2));
      assertThat(checks.verifyPartlyRead()).isZero();
      // Verified while streaming: nothing left to read whole.
      assertThat(checks.verifyAll()).isZero();
    }
  }

  @Test
  void aFlippedByteFailsWhenTheRegionIsComplete() {
    try (Arena arena = Arena.ofConfined(); ChecksummedReads checks = new ChecksummedReads()) {
      MemorySegment region = randomRegion(arena, 20_000, 3);
      int expected = Crc32.of(region);
      checks.register(region, expected, "model.distcp [layer.weight]: record 'archive/data/0'");
      region.set(ValueLayout.JAVA_BYTE, 12_345, (byte) (region.get(ValueLayout.JAVA_BYTE, 12_345) ^ 4));
      int actual = Crc32.of(region);
      assertThatThrownBy(() -> observeAll(region, shuffledRuns(region.byteSize(), 4)))
          .isInstanceOf(CheckpointFormatException.class)
          .hasMessageContaining("model.distcp [layer.weight]: record 'archive/data/0'")
          .hasMessageContaining("expected " + Crc32.hex(expected))
          .hasMessageContaining("computed " + Crc32.hex(actual));
    }
  }

  /** Runs read in place: 512-byte rows (not hashed one by one) and runs of 64 KiB and more (hashed as they come). */
  private static List<long[]> inPlaceRuns(long size, long seed) {
    List<long[]> runs = new ArrayList<>();
    long position = 0;
    for (int index = 0; position < size; index++) {
      long length = Math.min(size - position, index % 5 == 4 ? 70_000 : 512);
      runs.add(new long[] {position, length});
      position += length;
    }
    Collections.shuffle(runs, new Random(seed));
    return runs;
  }

  @Test
  void runsObservedInPlaceVerifyTheRegionAndCatchAFlippedByte() {
    try (Arena arena = Arena.ofConfined(); ChecksummedReads checks = new ChecksummedReads()) {
      MemorySegment region = randomRegion(arena, 400_000, 7);
      checks.register(region, Crc32.of(region), "rank file [a.weight]");
      for (long[] run : inPlaceRuns(region.byteSize(), 8)) {
        ChecksummedReads.observeInPlace(region, run[0], run[1]);
      }
      assertThat(checks.verifyPartlyRead()).isZero();
      assertThat(checks.verifyAll()).isZero();
    }
    try (Arena arena = Arena.ofConfined(); ChecksummedReads checks = new ChecksummedReads()) {
      MemorySegment region = randomRegion(arena, 400_000, 9);
      int expected = Crc32.of(region);
      checks.register(region, expected, "rank file [b.weight]");
      region.set(ValueLayout.JAVA_BYTE, 300_001, (byte) (region.get(ValueLayout.JAVA_BYTE, 300_001) ^ 1));
      assertThatThrownBy(() -> {
        for (long[] run : inPlaceRuns(region.byteSize(), 10)) {
          ChecksummedReads.observeInPlace(region, run[0], run[1]);
        }
      }).isInstanceOf(CheckpointFormatException.class)
          .hasMessageContaining("rank file [b.weight]")
          .hasMessageContaining("expected " + Crc32.hex(expected))
          .hasMessageContaining("computed " + Crc32.hex(Crc32.of(region)));
    }
  }

  @Test
  void aRegionReadInPartIsVerifiedWholeBeforeAnOutputIsCommitted() throws Exception {
    try (Arena arena = Arena.ofConfined(); ChecksummedReads checks = new ChecksummedReads()) {
      MemorySegment corrupted = randomRegion(arena, 8192, 6);
      checks.register(corrupted, Crc32.of(corrupted), "padded embedding");
      // Only the first rows are read (vocabulary padding dropped); the flipped byte lies in the rows not read.
      corrupted.set(ValueLayout.JAVA_BYTE, 8000, (byte) (corrupted.get(ValueLayout.JAVA_BYTE, 8000) ^ 1));
      ChecksummedReads.observe(corrupted, 0, 4096, corrupted.asSlice(0, 4096));
      Path target = temp.resolve("out");
      try (OutputDirectory out = OutputDirectory.create(target, false)) {
        Files.writeString(out.path().resolve("file"), "x");
        assertThatThrownBy(out::commit).isInstanceOf(CheckpointFormatException.class)
            .hasMessageContaining("padded embedding").hasMessageContaining("CRC-32 mismatch");
      }
      assertThat(target).doesNotExist();
    }
  }

  @Test
  void onlyRegionsReadInPartAreReadWholeAndCounted() {
    try (Arena arena = Arena.ofConfined(); ChecksummedReads checks = new ChecksummedReads()) {
      MemorySegment partly = randomRegion(arena, 8192, 5);
      MemorySegment unread = randomRegion(arena, 8192, 7);
      checks.register(partly, Crc32.of(partly), "read in part");
      checks.register(unread, Crc32.of(unread) ^ 1, "never read");
      ChecksummedReads.observe(partly, 100, 50, partly.asSlice(100, 50));
      assertThat(checks.verifyPartlyRead()).isEqualTo(1);
      assertThat(checks.verifyPartlyRead()).isZero();
      assertThatThrownBy(checks::verifyAll).hasMessageContaining("never read");
    }
  }

  @Test
  void runsOutsideRegionsAndRegionsOfAClosedScopeAreIgnored() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment region = randomRegion(arena, 4096, 8);
      MemorySegment other = randomRegion(arena, 4096, 9);
      ChecksummedReads checks = new ChecksummedReads();
      checks.register(region, Crc32.of(region) ^ 1, "wrong on purpose");
      ChecksummedReads.observe(other, 0, 4096, other);
      checks.close();
      ChecksummedReads.observe(region, 0, 4096, region);
      assertThat(ChecksummedReads.verifyAllPartlyRead()).isZero();
    }
  }
}
