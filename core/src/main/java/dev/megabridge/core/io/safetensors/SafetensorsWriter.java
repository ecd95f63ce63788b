package dev.megabridge.core.io.safetensors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.io.Crc32;
import dev.megabridge.core.io.FileSink;
import dev.megabridge.core.io.WorkerPool;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;
import java.util.stream.IntStream;
import java.util.zip.CRC32;

/**
 * Streams tensors into safetensors files. Each tensor is written from its (lazy) source run by run through a
 * {@link FileSink}, so the model is never materialised; memory use is the sink's blocks per file being written.
 */
public final class SafetensorsWriter {

  /** The reserved header key holding the string → string metadata map. */
  public static final String METADATA_KEY = "__metadata__";

  /** One tensor to write under {@code name}. */
  public record Entry(String name, Tensor tensor) {}

  private SafetensorsWriter() {}

  /** The header JSON (padded with spaces to a multiple of 8 bytes) for {@code entries} in order. */
  public static byte[] header(List<Entry> entries, Map<String, String> metadata) {
    ObjectNode root = SafetensorsFile.JSON.createObjectNode();
    ObjectNode meta = root.putObject(METADATA_KEY);
    metadata.forEach(meta::put);
    long offset = 0;
    for (Entry entry : entries) {
      ObjectNode node = root.putObject(entry.name());
      node.put("dtype", entry.tensor().dtype().safetensorsName());
      ArrayNode shape = node.putArray("shape");
      for (long dim : entry.tensor().shape().toArray()) {
        shape.add(dim);
      }
      long size = entry.tensor().byteSize();
      node.putArray("data_offsets").add(offset).add(offset + size);
      offset += size;
    }
    byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) & ~7;
    byte[] out = new byte[padded];
    System.arraycopy(json, 0, out, 0, json.length);
    Arrays.fill(out, json.length, padded, (byte) ' ');
    return out;
  }

  /** Writes one file with the default metadata {@code {"format": "pt"}}. */
  public static void writeFile(Path file, List<Entry> entries, LongConsumer progress) {
    writeFile(file, entries, Map.of("format", "pt"), progress);
  }

  public static void writeFile(Path file, List<Entry> entries, Map<String, String> metadata,
      LongConsumer progress) {
    write(file, entries, metadata, progress, false);
  }

  /**
   * What {@link #writeFileWithChecksums} wrote: the file's size, the CRC-32 of its header (the 8-byte length and
   * the JSON), of each tensor's bytes (in entry order) and of the whole file.
   */
  public record FileChecksums(long bytes, int headerCrc32, Map<String, Integer> tensorCrc32, int fileCrc32) {
    public FileChecksums {
      tensorCrc32 = Collections.unmodifiableMap(new LinkedHashMap<>(tensorCrc32));
    }
  }

  /**
   * {@link #writeFile(Path, List, Map, LongConsumer)} that also returns the CRC-32s of what it wrote, taken from
   * the bytes in the sink's blocks as they are filled (no second pass over the data).
   */
  public static FileChecksums writeFileWithChecksums(Path file, List<Entry> entries, Map<String, String> metadata,
      LongConsumer progress) {
    return write(file, entries, metadata, progress, true);
  }

  private static FileChecksums write(Path file, List<Entry> entries, Map<String, String> metadata,
      LongConsumer progress, boolean checksums) {
    checkUnique(entries);
    byte[] header = header(entries, metadata);
    byte[] length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array();
    CRC32 headerCrc = new CRC32();
    headerCrc.update(length);
    headerCrc.update(header);
    Map<String, Integer> tensorCrcs = new LinkedHashMap<>();
    int fileCrc = (int) headerCrc.getValue();
    long position;
    try (FileSink sink = FileSink.create(file)) {
      sink.write(length);
      sink.write(header);
      for (Entry entry : entries) {
        long[] written = {0};
        CRC32 crc = checksums ? new CRC32() : null;
        entry.tensor().forEachRun((segment, offset, size, origin) -> {
          sink.write(segment, offset, size, crc, origin);
          written[0] += size;
          progress.accept(size);
        });
        if (written[0] != entry.tensor().byteSize()) {
          throw new InternalException("tensor '" + entry.name() + "' streamed " + written[0]
              + " bytes instead of " + entry.tensor().byteSize());
        }
        if (checksums) {
          sink.completeChecksum();
          tensorCrcs.put(entry.name(), (int) crc.getValue());
          fileCrc = Crc32.combine(fileCrc, (int) crc.getValue(), written[0]);
        }
      }
      position = sink.position();
    }
    return new FileChecksums(position, (int) headerCrc.getValue(), tensorCrcs, fileCrc);
  }

  /**
   * Writes {@code entries} into {@code directory} (which must exist): one {@code model.safetensors} when
   * everything fits {@code maxShardBytes}, else {@code model-0000i-of-0000n.safetensors} files plus
   * {@code model.safetensors.index.json}. Entries keep their order; a tensor larger than the limit gets a
   * shard of its own. Returns the tensor → file map.
   */
  public static Map<String, String> writeSharded(Path directory, List<Entry> entries, long maxShardBytes,
      int threads, LongConsumer progress) {
    List<List<Entry>> shards = new ArrayList<>();
    List<Entry> current = new ArrayList<>();
    long currentBytes = 0;
    for (Entry entry : entries) {
      long size = entry.tensor().byteSize();
      if (!current.isEmpty() && currentBytes + size > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        currentBytes = 0;
      }
      current.add(entry);
      currentBytes += size;
    }
    if (!current.isEmpty() || shards.isEmpty()) {
      shards.add(current);
    }
    List<String> fileNames = new ArrayList<>();
    for (int index = 0; index < shards.size(); index++) {
      fileNames.add(shards.size() == 1 ? SafetensorsCheckpoint.SINGLE_FILE
          : String.format("model-%05d-of-%05d.safetensors", index + 1, shards.size()));
    }
    return writeShards(directory, shards, fileNames, threads, progress);
  }

  /**
   * Writes explicitly grouped shards with the given file names (and an index when more than one), up to
   * {@code threads} files at once; {@code progress} must be thread-safe.
   */
  public static Map<String, String> writeShards(Path directory, List<List<Entry>> shards, List<String> fileNames,
      int threads, LongConsumer progress) {
    if (shards.size() != fileNames.size() || new HashSet<>(fileNames).size() != fileNames.size()) {
      throw new InternalException(shards.size() + " shards but file names " + fileNames);
    }
    checkUnique(shards.stream().flatMap(List::stream).toList());
    Map<String, String> weightMap = new LinkedHashMap<>();
    long totalSize = 0;
    // Files are independent: write them in parallel (each one's sink holds at most three blocks).
    WorkerPool.forEach(IntStream.range(0, shards.size()).boxed().toList(), threads,
        index -> writeFile(directory.resolve(fileNames.get(index)), shards.get(index), progress));
    for (int index = 0; index < shards.size(); index++) {
      for (Entry entry : shards.get(index)) {
        weightMap.put(entry.name(), fileNames.get(index));
        totalSize += entry.tensor().byteSize();
      }
    }
    if (shards.size() > 1) {
      writeIndex(directory.resolve(SafetensorsCheckpoint.INDEX_FILE), weightMap, totalSize);
    }
    return weightMap;
  }

  public static void writeIndex(Path file, Map<String, String> weightMap, long totalSize) {
    ObjectNode root = SafetensorsFile.JSON.createObjectNode();
    root.putObject("metadata").put("total_size", totalSize);
    ObjectNode map = root.putObject("weight_map");
    weightMap.entrySet().stream().sorted(Map.Entry.comparingByKey())
        .forEach(entry -> map.put(entry.getKey(), entry.getValue()));
    try {
      Files.writeString(file, root.toPrettyString() + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": write failed: " + e.getMessage(), e);
    }
  }

  /** Names must be unique (also across the shards of one checkpoint) and must not be the metadata key. */
  private static void checkUnique(List<Entry> entries) {
    Set<String> seen = new HashSet<>();
    for (Entry entry : entries) {
      if (entry.name().equals(METADATA_KEY)) {
        throw new InternalException("a tensor cannot be named '" + METADATA_KEY + "'");
      }
      if (!seen.add(entry.name())) {
        throw new InternalException("tensor '" + entry.name() + "' written twice");
      }
    }
  }
}
