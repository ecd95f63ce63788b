package dev.megabridge.core.io.safetensors;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-assembled safetensors files for reader tests: {@code u64 LE length ‖ header ‖ data}. */
final class SafetensorsBytes {

  private SafetensorsBytes() {}

  /** A file whose length prefix is the true header length, header padded with spaces to 8 bytes. */
  static byte[] file(String headerJson, byte[] data) {
    byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
    int padded = (header.length + 7) / 8 * 8;
    byte[] paddedHeader = java.util.Arrays.copyOf(header, padded);
    java.util.Arrays.fill(paddedHeader, header.length, padded, (byte) ' ');
    return raw(padded, paddedHeader, data);
  }

  /** A file with an arbitrary declared header length. */
  static byte[] raw(long declaredLength, byte[] header, byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(declaredLength).array());
    out.writeBytes(header);
    out.writeBytes(data);
    return out.toByteArray();
  }

  static Path write(Path file, byte[] bytes) {
    try {
      Files.createDirectories(file.getParent());
      return Files.write(file, bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code count} bytes 0, 1, 2, … (mod 256): distinct enough to catch misplaced ranges. */
  static byte[] counting(int count) {
    byte[] data = new byte[count];
    for (int index = 0; index < count; index++) {
      data[index] = (byte) index;
    }
    return data;
  }
}
