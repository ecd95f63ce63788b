package dev.megabridge.core.io;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Which file a memory-mapped address belongs to, so that a writer ({@link FileSink}) can read a large run of a
 * mapped source with {@code pread} (readahead, no page faults) instead of faulting it in through the mapping. Mappings register when opened; an entry whose arena has been
 * closed is never returned (its address range may have been reused) and is dropped on sight.
 */
public final class MappedFiles {

  /** A live mapping of {@code path}, whose byte 0 is file offset {@code fileOffset}. */
  private record Mapping(MemorySegment segment, Path path, long fileOffset) {}

  /** Where a run of bytes lives on disk. */
  public record Location(Path path, long fileOffset) {}

  private static final ConcurrentSkipListMap<Long, Mapping> BY_ADDRESS = new ConcurrentSkipListMap<>();

  private MappedFiles() {}

  /** Registers a native mapping of {@code path} starting at file offset {@code fileOffset}. */
  public static void register(MemorySegment mapping, Path path, long fileOffset) {
    if (mapping.isNative() && mapping.byteSize() > 0) {
      BY_ADDRESS.put(mapping.address(), new Mapping(mapping, path, fileOffset));
    }
  }

  /** Forgets {@code mapping} (call before its arena closes). */
  public static void unregister(MemorySegment mapping) {
    BY_ADDRESS.computeIfPresent(mapping.address(), (address, entry) -> entry.segment() == mapping ? null : entry);
  }

  /** The file location of {@code [address, address + length)} if it lies inside one live mapping. */
  public static Optional<Location> locate(long address, long length) {
    while (true) {
      Map.Entry<Long, Mapping> entry = BY_ADDRESS.floorEntry(address);
      if (entry == null) {
        return Optional.empty();
      }
      Mapping mapping = entry.getValue();
      if (!mapping.segment().scope().isAlive()) {
        BY_ADDRESS.remove(entry.getKey(), mapping);
        continue;
      }
      long start = mapping.segment().address();
      if (address + length > start + mapping.segment().byteSize()) {
        return Optional.empty();
      }
      return Optional.of(new Location(mapping.path(), mapping.fileOffset() + (address - start)));
    }
  }
}
