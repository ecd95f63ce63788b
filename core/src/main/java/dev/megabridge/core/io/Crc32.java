package dev.megabridge.core.io;

import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32;

/**
 * CRC-32 (the zip / {@link CRC32} polynomial) of memory segments, and the CRC of a concatenation from the CRCs of its
 * parts ({@link #combine}), so that parts hashed out of order (or on different threads) still give the whole's CRC.
 * Polynomials are kept in the reflected bit order of the CRC itself: bit 31 is the coefficient of x^0.
 */
public final class Crc32 {

  /** The reflected CRC-32 polynomial. */
  private static final int POLY = 0xEDB88320;
  /** {@code X_POW_2_POW[k]} = x^(2^k) mod P, for every power a 64-bit bit count needs. */
  private static final int[] X_POW_2_POW = new int[67];
  /** At most this many bytes are handed to {@link CRC32#update(java.nio.ByteBuffer)} at once. */
  private static final long PIECE = 1L << 30;

  static {
    X_POW_2_POW[0] = 1 << 30;
    for (int k = 1; k < X_POW_2_POW.length; k++) {
      X_POW_2_POW[k] = multiplyModP(X_POW_2_POW[k - 1], X_POW_2_POW[k - 1]);
    }
  }

  private Crc32() {}

  /** The CRC-32 of all of {@code bytes}. */
  public static int of(MemorySegment bytes) {
    CRC32 crc = new CRC32();
    update(crc, bytes);
    return (int) crc.getValue();
  }

  /** Adds all of {@code bytes} to {@code crc} (segments of any size). */
  public static void update(CRC32 crc, MemorySegment bytes) {
    for (long done = 0; done < bytes.byteSize(); done += PIECE) {
      crc.update(bytes.asSlice(done, Math.min(PIECE, bytes.byteSize() - done)).asByteBuffer());
    }
  }

  /** The CRC-32 of {@code A ‖ B} from {@code crcA}, {@code crcB} and B's length in bytes. */
  public static int combine(int crcA, int crcB, long lengthB) {
    if (lengthB == 0) {
      return crcA;
    }
    return multiplyModP(xPow8n(lengthB), crcA) ^ crcB;
  }

  /** x^(8·n) mod P: shifting a CRC over n zero bytes multiplies it by this. */
  private static int xPow8n(long bytes) {
    int product = 1 << 31;
    int k = 3;
    for (long rest = bytes; rest != 0; rest >>>= 1, k++) {
      if ((rest & 1) != 0) {
        product = multiplyModP(X_POW_2_POW[k], product);
      }
    }
    return product;
  }

  /** a·b mod P over GF(2), both in reflected order. */
  private static int multiplyModP(int a, int b) {
    int product = 0;
    for (int bit = 1 << 31; bit != 0; bit >>>= 1) {
      if ((a & bit) != 0) {
        product ^= b;
      }
      b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1;
    }
    return product;
  }

  /** Eight lowercase hex digits, as the checksum files record them. */
  public static String hex(int crc) {
    return String.format("%08x", crc);
  }
}
