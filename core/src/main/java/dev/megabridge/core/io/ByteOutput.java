package dev.megabridge.core.io;

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
   * {@code crc}: call {@link #completeChecksum()} before reading it.
   */
  void write(MemorySegment segment, long offset, long length, Checksum crc);

  /** Adds every byte written but not yet added to the checksum last passed to {@link #write}. */
  void completeChecksum();

  default void write(byte[] bytes) {
    write(MemorySegment.ofArray(bytes), 0, bytes.length, null);
  }

  default void write(MemorySegment segment, long offset, long length) {
    write(segment, offset, length, null);
  }
}
