package dev.megabridge.core.tensor;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where the bytes of a segment read from a memory-mapped file lie on disk: the segment's byte 0 is byte
 * {@code fileOffset} of {@code file}. A tensor view over a mapping carries it ({@link StridedTensor#origin()}) and
 * hands it out with every run, so that a writer can read a long run with {@code pread} (readahead, no page faults)
 * instead of faulting it in through the mapping ({@code FileSink}). The file is read-only input: its bytes are the
 * mapping's bytes.
 */
public record FileOrigin(Path file, long fileOffset) {

  public FileOrigin {
    Objects.requireNonNull(file, "file");
    if (fileOffset < 0) {
      throw new IllegalArgumentException(file + ": negative file offset " + fileOffset);
    }
  }

  /** The origin of the bytes {@code bytes} further on (a slice of the segment this origin describes). */
  public FileOrigin plus(long bytes) {
    return new FileOrigin(file, Math.addExact(fileOffset, bytes));
  }
}
