package dev.megabridge.core.io;

import dev.megabridge.core.tensor.FileOrigin;
import java.lang.foreign.MemorySegment;
import java.util.zip.Checksum;

/**
 * An append-only byte destination that counts its position: a file ({@link FileSink}) or memory
 * ({@link ByteArrayOutput}). Writers that lay out formats (safetensors, torch zip archives) need only this.
 */
public sealed interface ByteOutput permits FileSink, ByteArrayOutput {

  /** Bytes written so far. */
  long position();

  /**
   * Appends {@code [offset, offset + length)} of {@code segment} (native, mapped or any heap array) and, when
   * {@code crc} is not null, adds those bytes to it — possibly later, batched with the next writes to the same
   * {@code crc}: call {@link #completeChecksum()} before reading it. {@code origin}, when not null, says where
   * {@code segment} lies on disk (a tensor run's origin): an output may read the bytes from there instead.
   */
  void write(MemorySegment segment, long offset, long length, Checksum crc, FileOrigin origin);

  /** Adds every byte written but not yet added to the checksum last passed to {@link #write}. */
  void completeChecksum();

  default void write(byte[] bytes) {
    write(MemorySegment.ofArray(bytes), 0, bytes.length, null, null);
  }

  default void write(MemorySegment segment, long offset, long length) {
    write(segment, offset, length, null, null);
  }

  /** Appends bytes that are not a mapped file's, adding them to {@code crc} (see the five-argument form). */
  default void write(MemorySegment segment, long offset, long length, Checksum crc) {
    write(segment, offset, length, crc, null);
  }
}
