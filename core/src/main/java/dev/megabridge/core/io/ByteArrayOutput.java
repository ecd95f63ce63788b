package dev.megabridge.core.io;

import dev.megabridge.core.tensor.FileOrigin;
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

  /** Copies from the segment: the archives built here are small, reading their runs from a file gains nothing. */
  @Override
  public void write(MemorySegment segment, long offset, long length, Checksum crc, FileOrigin origin) {
    if (size + length > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("an in-memory archive cannot exceed 2 GiB");
    }
    int required = size + (int) length;
    if (required > bytes.length) {
      bytes = Arrays.copyOf(bytes, Math.max(required, bytes.length * 2));
    }
    MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, bytes, size, (int) length);
    ChecksummedReads.observe(segment, offset, length, MemorySegment.ofArray(bytes).asSlice(size, length));
    if (crc != null) {
      crc.update(bytes, size, (int) length);
    }
    size = required;
  }

  /** Checksums are updated as bytes are written: nothing is pending. */
  @Override
  public void completeChecksum() {}

  /** A copy of the bytes written. */
  public byte[] toByteArray() {
    return Arrays.copyOf(bytes, size);
  }
}
