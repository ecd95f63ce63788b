package dev.megabridge.core.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.zip.Checksum;

/**
 * A growable heap byte array, for small archives (extra state, common state): thousands are made per
 * checkpoint, so they must not hold direct memory that only a later GC would free.
 */
public final class ByteArrayOutput implements ByteOutput {
  private byte[] bytes = new byte[1024];
  private int size;

  @Override
  public long position() {
    return size;
  }

  @Override
  public void write(MemorySegment segment, long offset, long length, Checksum crc) {
    if (size + length > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("an in-memory archive cannot exceed 2 GiB");
    }
    int required = size + (int) length;
    if (required > bytes.length) {
      bytes = Arrays.copyOf(bytes, Math.max(required, bytes.length * 2));
    }
    MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, bytes, size, (int) length);
    if (crc != null) {
      crc.update(bytes, size, (int) length);
    }
    size = required;
  }

  /** A copy of the bytes written. */
  public byte[] toByteArray() {
    return Arrays.copyOf(bytes, size);
  }

  /** Adds {@code [offset, offset + length)} of {@code segment} (native or any heap array) to {@code crc}. */
  static void update(Checksum crc, MemorySegment segment, long offset, long length) {
    if (segment.isNative() || segment.heapBase().orElse(null) instanceof byte[]) {
      crc.update(segment.asSlice(offset, length).asByteBuffer());
      return;
    }
    byte[] scratch = new byte[(int) Math.min(length, 1 << 16)];
    for (long done = 0; done < length; done += scratch.length) {
      int piece = (int) Math.min(scratch.length, length - done);
      MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset + done, scratch, 0, piece);
      crc.update(scratch, 0, piece);
    }
  }
}
