package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

class Crc32Test {

  @Test
  void combineGivesTheCrcOfTheConcatenation() {
    Random random = new Random(7);
    for (int trial = 0; trial < 200; trial++) {
      byte[] bytes = new byte[random.nextInt(5000)];
      random.nextBytes(bytes);
      int cut = bytes.length == 0 ? 0 : random.nextInt(bytes.length + 1);
      MemorySegment all = MemorySegment.ofArray(bytes);
      int left = Crc32.of(all.asSlice(0, cut));
      int right = Crc32.of(all.asSlice(cut));
      CRC32 whole = new CRC32();
      whole.update(bytes);
      assertThat(Crc32.combine(left, right, bytes.length - cut)).as("trial %d", trial)
          .isEqualTo((int) whole.getValue());
    }
  }

  @Test
  void combineHandlesLengthsBeyondFourGigabytes() {
    // CRC(A ‖ 0^n ‖ B) for n = 2^33 zero bytes: shifting over the zeros is combine(crcA, crc(0^n), n); cross-check
    // with combining in two halves.
    long half = 1L << 32;
    int zerosHalf = zeroCrc(half);
    int zeros = Crc32.combine(zerosHalf, zerosHalf, half);
    int a = Crc32.of(MemorySegment.ofArray(new byte[] {1, 2, 3}));
    assertThat(Crc32.combine(a, zeros, 2 * half))
        .isEqualTo(Crc32.combine(Crc32.combine(a, zerosHalf, half), zerosHalf, half));
  }

  /** CRC-32 of n zero bytes, by doubling from one. */
  private static int zeroCrc(long n) {
    int crc = Crc32.of(MemorySegment.ofArray(new byte[1]));
    for (long length = 1; length < n; length *= 2) {
      crc = Crc32.combine(crc, crc, length);
    }
    return crc;
  }

  @Test
  void hexIsEightLowercaseDigits() {
    assertThat(Crc32.hex(0x0000abcd)).isEqualTo("0000abcd");
    assertThat(Crc32.hex(0xFFFFFFFF)).isEqualTo("ffffffff");
  }
}
