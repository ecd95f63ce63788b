package dev.megabridge.core.io.torchdist;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.util.zip.CRC32;

/**
 * A buffered, position-counting output for archive bytes: small writes are gathered in one direct buffer,
 * large tensor runs go straight to the channel. Memory use is the buffer, whatever is streamed through.
 */
final class ByteSink implements AutoCloseable {
  private static final int BUFFER_BYTES = 4 << 20;

  private final WritableByteChannel channel;
  private final String name;
  private final ByteBuffer buffer;
  private final MemorySegment bufferSegment;
  private long position;

  /** Writes to {@code channel} (positioned at its end); {@code name} is used in I/O error messages. */
  ByteSink(WritableByteChannel channel, String name) {
    this(channel, name, ByteBuffer.allocateDirect(BUFFER_BYTES));
  }

  private ByteSink(WritableByteChannel channel, String name, ByteBuffer buffer) {
    this.channel = channel;
    this.name = name;
    this.buffer = buffer;
    this.bufferSegment = MemorySegment.ofBuffer(buffer);
  }

  /**
   * A sink collecting into {@code out}, for small archives (extra state, common state): a small heap buffer,
   * since thousands of them are made per checkpoint and direct buffers are only freed by a later GC.
   */
  static ByteSink of(ByteArrayOutputStream out) {
    return new ByteSink(Channels.newChannel(out), "memory", ByteBuffer.allocate(64 << 10));
  }

  /** Bytes written so far. */
  long position() {
    return position;
  }

  void write(byte[] bytes) {
    write(MemorySegment.ofArray(bytes), 0, bytes.length);
  }

  void write(MemorySegment segment, long offset, long length) {
    if (length >= BUFFER_BYTES / 2 && segment.isNative()) {
      flush();
      writeFully(segment.asSlice(offset, length).asByteBuffer());
    } else {
      // Heap segments over non-byte arrays have no ByteBuffer view: go through the buffer in pieces.
      long done = 0;
      while (done < length) {
        if (!buffer.hasRemaining()) {
          flush();
        }
        int piece = (int) Math.min(buffer.remaining(), length - done);
        MemorySegment.copy(segment, offset + done, bufferSegment, buffer.position(), piece);
        buffer.position(buffer.position() + piece);
        done += piece;
      }
    }
    position += length;
  }

  /**
   * Writes {@code [offset, offset + length)} of {@code segment} and adds it to {@code crc}. A large run of a
   * memory-mapped file is checksummed through the mapping and copied file to file in the kernel
   * ({@code transferTo}, i.e. {@code copy_file_range}), so its bytes cross into user space only once.
   */
  void writeChecksummed(MemorySegment segment, long offset, long length, CRC32 crc) {
    updateCrc(crc, segment, offset, length);
    var onDisk = length >= BUFFER_BYTES / 2 && segment.isNative()
        ? dev.megabridge.core.io.MappedFiles.locate(segment.address() + offset, length)
        : java.util.Optional.<dev.megabridge.core.io.MappedFiles.Location>empty();
    if (onDisk.isEmpty()) {
      write(segment, offset, length);
      return;
    }
    flush();
    try (java.nio.channels.FileChannel source = java.nio.channels.FileChannel.open(onDisk.get().path())) {
      long done = 0;
      while (done < length) {
        long moved = source.transferTo(onDisk.get().fileOffset() + done, length - done, channel);
        if (moved <= 0) {
          throw new IOException(onDisk.get().path() + ": transfer stalled " + (length - done) + " bytes early");
        }
        done += moved;
      }
    } catch (IOException e) {
      throw new UncheckedIOException(name + ": copy failed: " + e.getMessage(), e);
    }
    position += length;
  }

  /** Adds {@code [offset, offset + length)} of {@code segment} (native or any heap array) to {@code crc}. */
  static void updateCrc(CRC32 crc, MemorySegment segment, long offset, long length) {
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

  void flush() {
    buffer.flip();
    writeFully(buffer);
    buffer.clear();
  }

  private void writeFully(ByteBuffer bytes) {
    try {
      while (bytes.hasRemaining()) {
        channel.write(bytes);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(name + ": write failed: " + e.getMessage(), e);
    }
  }

  /** Flushes; the channel stays open (its owner closes it). */
  @Override
  public void close() {
    flush();
  }
}
