package dev.megabridge.core.io.torchdist;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.ChecksummedReads;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.io.torchdist.DcpMetadata.BytesStorage;
import dev.megabridge.core.io.torchdist.DcpMetadata.Chunk;
import dev.megabridge.core.io.torchdist.DcpMetadata.Index;
import dev.megabridge.core.io.torchdist.DcpMetadata.Location;
import dev.megabridge.core.io.torchdist.DcpMetadata.StorageMetadata;
import dev.megabridge.core.io.torchdist.DcpMetadata.TensorStorage;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.FileOrigin;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads a {@code torch_dist} checkpoint — ours, Megatron's legacy form with {@code common.pt}, Megatron
 * v0.19+ with the common state inside the DCP files (docs/formats.md §3.8), or a plain
 * {@code torch.distributed.checkpoint.save} folder. Data files are memory-mapped on first use and every
 * tensor is a lazy view: each chunk is a zero-copy strided view of its archive record (storage offset and
 * strides honoured), and the chunks are concatenated into the global tensor. Optimizer and RNG state are
 * not listed as model keys. Mappings live until {@link #close()}. Every archive is opened with this reader's
 * {@link ChecksummedReads}: each storage record's zip CRC-32 is checked as its bytes are streamed (records read
 * only in part are checked whole before an output is committed), {@link #verifyAll()} checks every record.
 */
public final class TorchDistReader implements TensorSource, AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String COMMON_STATE_PREFIX = "common_state/";

  private final Path directory;
  private final Arena arena;
  private final DcpMetadata metadata;
  private final Map<String, Object> formatMarker;
  private final List<String> tensorKeys;
  private final List<String> objectKeys;
  private final Map<String, MemorySegment> mappedFiles = new ConcurrentHashMap<>();
  private final ChecksummedReads checks = new ChecksummedReads();

  private TorchDistReader(Path directory, Arena arena, DcpMetadata metadata, Map<String, Object> formatMarker) {
    this.directory = directory;
    this.arena = arena;
    this.metadata = metadata;
    this.formatMarker = formatMarker;
    List<String> tensors = new ArrayList<>();
    List<String> objects = new ArrayList<>();
    metadata.stateDictMetadata().forEach((key, storage) -> {
      if (isTrainingState(key)) {
        return;
      }
      switch (storage) {
        case TensorStorage ignored -> tensors.add(key);
        case BytesStorage ignored -> {
          if (!key.startsWith(COMMON_STATE_PREFIX)) {
            objects.add(key);
          }
        }
      }
    });
    this.tensorKeys = List.copyOf(tensors);
    this.objectKeys = List.copyOf(objects);
  }

  /**
   * Opens a checkpoint folder (the one holding {@code .metadata}) or a Megatron save folder with
   * {@code latest_checkpointed_iteration.txt} ({@code release} → {@code release/}, N → {@code iter_%07d}).
   */
  public static TorchDistReader open(Path path) {
    Path directory = resolveCheckpointDirectory(path);
    Path metadataFile = directory.resolve(".metadata");
    Map<String, Object> marker = readFormatMarker(directory.resolve("metadata.json"));
    Arena arena = Arena.ofShared();
    try {
      MemorySegment metadataBytes = map(metadataFile, arena);
      DcpMetadata metadata = DcpMetadata.decode(metadataBytes, metadataFile.toString());
      return new TorchDistReader(directory, arena, metadata, marker);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  private static Path resolveCheckpointDirectory(Path path) {
    Path tracker = path.resolve(TorchDistWriter.TRACKER_FILE);
    if (Files.isRegularFile(tracker)) {
      String text;
      try {
        text = Files.readString(tracker, StandardCharsets.UTF_8).strip();
      } catch (CharacterCodingException e) {
        throw new CheckpointFormatException(tracker + ": not UTF-8 text (expected an iteration number or 'release')",
            e);
      } catch (IOException e) {
        throw new CheckpointFormatException(tracker + ": cannot read: " + e.getMessage(), e);
      }
      Path resolved;
      if (text.equals(TorchDistWriter.RELEASE)) {
        resolved = path.resolve(TorchDistWriter.RELEASE);
      } else {
        try {
          resolved = path.resolve(String.format("iter_%07d", Long.parseLong(text)));
        } catch (NumberFormatException e) {
          throw new CheckpointFormatException(tracker + ": '" + text + "' is neither an iteration nor 'release'");
        }
      }
      if (!Files.isRegularFile(resolved.resolve(".metadata"))) {
        throw new CheckpointFormatException(tracker + " points to " + resolved + ", which has no .metadata");
      }
      return resolved;
    }
    if (!Files.isRegularFile(path.resolve(".metadata"))) {
      throw new CheckpointFormatException(path + ": not a torch_dist checkpoint (no .metadata and no "
          + TorchDistWriter.TRACKER_FILE + ")");
    }
    return path;
  }

  private static Map<String, Object> readFormatMarker(Path file) {
    if (!Files.isRegularFile(file)) {
      return Map.of();
    }
    try {
      Map<String, Object> marker = JSON.readValue(Files.readString(file, StandardCharsets.UTF_8),
          new TypeReference<Map<String, Object>>() {});
      Object backend = marker.get("sharded_backend");
      if (!"torch_dist".equals(backend)) {
        throw new CheckpointFormatException(file + ": sharded_backend is " + backend + ", not torch_dist");
      }
      return Map.copyOf(marker);
    } catch (JsonProcessingException e) {
      throw new CheckpointFormatException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new CheckpointFormatException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  private static MemorySegment map(Path file, Arena arena) {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      return channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
    } catch (IOException e) {
      throw new CheckpointFormatException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Optimizer state and RNG state: never model weights (docs/formats.md §3.17). */
  private static boolean isTrainingState(String key) {
    return key.startsWith("optimizer.") || key.startsWith("rng_state");
  }

  /** The folder holding {@code .metadata}. */
  public Path directory() {
    return directory;
  }

  /** The parsed {@code .metadata}: every key, including optimizer and RNG state. */
  public DcpMetadata metadata() {
    return metadata;
  }

  /** {@code metadata.json} fields; empty for a plain DCP folder without it. */
  public Map<String, Object> formatMarker() {
    return formatMarker;
  }

  /** Model tensor keys in file order (no optimizer or RNG state). */
  public List<String> tensorKeys() {
    return tensorKeys;
  }

  /** Bytes items that are model objects ({@code _extra_state} …): no optimizer, RNG or common state. */
  public List<String> objectKeys() {
    return objectKeys;
  }

  public TensorStorage tensorMetadata(String key) {
    if (metadata.stateDictMetadata().get(key) instanceof TensorStorage tensor) {
      return tensor;
    }
    throw new CheckpointFormatException(directory + ": no tensor key '" + key + "'");
  }

  // ------------------------------------------------------------------------------- TensorSource

  @Override
  public List<String> names() {
    return tensorKeys;
  }

  @Override
  public boolean contains(String name) {
    return metadata.stateDictMetadata().get(name) instanceof TensorStorage;
  }

  @Override
  public DType dtype(String name) {
    return tensorMetadata(name).dtype();
  }

  @Override
  public Shape shape(String name) {
    return tensorMetadata(name).size();
  }

  /**
   * The global tensor of {@code key}: its chunks' stored tensors (checked against the chunk sizes and
   * converted to the key's dtype if a producer stored another floating type) concatenated into place.
   */
  @Override
  public Tensor tensor(String key) {
    TensorStorage storage = tensorMetadata(key);
    List<PlacedChunk> chunks = new ArrayList<>();
    for (Chunk chunk : storage.chunks()) {
      Location location = location(Index.ofChunk(key, chunk.offsets()));
      String where = directory.resolve(location.relativePath()) + " [" + key + " chunk " + chunk.offsets() + "]";
      TorchArchive archive = archive(location, key, where);
      Tensor data = archive.tensor(archive.loadObject());
      if (!data.shape().equals(chunk.sizes())) {
        throw new CheckpointFormatException(where + ": stored tensor has shape " + data.shape()
            + ", the metadata says " + chunk.sizes());
      }
      if (data.dtype() != storage.dtype()) {
        if (!data.dtype().isFloating() || !storage.dtype().isFloating()) {
          throw new CheckpointFormatException(where + ": stored tensor is " + data.dtype() + ", the metadata says "
              + storage.dtype());
        }
        data = data.convert(storage.dtype());
      }
      chunks.add(new PlacedChunk(chunk.offsets().stream().mapToLong(Long::longValue).toArray(), data));
    }
    return ChunkAssembly.assemble(directory + " [" + key + "]", storage.dtype(), storage.size(), chunks);
  }

  @Override
  public String location(String name) {
    TensorStorage storage = tensorMetadata(name);
    return storage.chunks().isEmpty() ? directory.toString()
        : directory.resolve(location(Index.ofChunk(name, storage.chunks().getFirst().offsets())).relativePath())
            .toString();
  }

  // ------------------------------------------------------------------------------- objects

  /** The raw bytes of a bytes item (any key, including optimizer/common state). */
  public MemorySegment bytes(String key) {
    return slice(bytesLocation(key), key);
  }

  /** A bytes item opened as the torch archive it normally is (resolve tensors inside with it). */
  public TorchArchive objectArchive(String key) {
    Location location = bytesLocation(key);
    return archive(location, key, directory.resolve(location.relativePath()) + " [" + key + "]");
  }

  /** Where bytes item {@code key} is stored; an error when the checkpoint has no such bytes item. */
  private Location bytesLocation(String key) {
    if (!(metadata.stateDictMetadata().get(key) instanceof BytesStorage)) {
      throw new CheckpointFormatException(directory + ": no bytes key '" + key + "'");
    }
    return location(Index.ofBytes(key));
  }

  /** {@code torch.load} of a bytes item; Megatron ShardedObjects are a list of per-rank values. */
  public PickleValue object(String key) {
    return objectArchive(key).loadObject();
  }

  /**
   * The common state dict: {@code common.pt} when present (Megatron ≤ v0.18 and our writer; v0.19 prefers
   * it too), else element 0 of the {@code common_state/…} bytes item (v0.19+), else empty.
   */
  public Optional<PickleValue> commonState() {
    Path commonFile = directory.resolve("common.pt");
    if (Files.isRegularFile(commonFile)) {
      return Optional.of(commonArchive(commonFile).loadObject());
    }
    for (Map.Entry<String, StorageMetadata> entry : metadata.stateDictMetadata().entrySet()) {
      if (entry.getKey().startsWith(COMMON_STATE_PREFIX) && entry.getValue() instanceof BytesStorage) {
        PickleValue value = object(entry.getKey());
        if (!(value instanceof PyList list) || list.size() < 1) {
          throw new CheckpointFormatException(directory + ": '" + entry.getKey() + "' is " + value.typeName()
              + ", not a non-empty list");
        }
        return Optional.of(list.get(0));
      }
    }
    return Optional.empty();
  }

  /** What {@link #verifyAll()} read. */
  public record Verification(int archives, long bytes, List<String> notArchives) {}

  /**
   * Reads every item of every data file once and checks the CRC-32 of each of its records, and those of
   * {@code common.pt}: a mismatch is a {@link CheckpointFormatException} naming file, item and record. A bytes item
   * that is not a torch archive (nothing this reader loads) has no checksum and is listed instead.
   */
  public Verification verifyAll() {
    int archives = 0;
    long bytes = 0;
    List<String> notArchives = new ArrayList<>();
    for (Map.Entry<Index, Location> item : metadata.storageData().entrySet()) {
      Location location = item.getValue();
      String where = directory.resolve(location.relativePath()) + " [" + item.getKey().fqn()
          + item.getKey().offset().map(offset -> " chunk " + offset).orElse("") + "]";
      TorchArchive archive;
      try {
        archive = archive(location, item.getKey().fqn(), where);
      } catch (CheckpointFormatException notZip) {
        if (metadata.stateDictMetadata().get(item.getKey().fqn()) instanceof BytesStorage) {
          notArchives.add(item.getKey().fqn());
          continue;
        }
        throw notZip;
      }
      bytes += archive.verifyRecords();
      archives++;
    }
    Path commonFile = directory.resolve("common.pt");
    if (Files.isRegularFile(commonFile)) {
      bytes += commonArchive(commonFile).verifyRecords();
      archives++;
    }
    return new Verification(archives, bytes, List.copyOf(notArchives));
  }

  // ------------------------------------------------------------------------------- plumbing

  private Location location(Index index) {
    Location location = metadata.storageData().get(index);
    if (location == null) {
      throw new CheckpointFormatException(directory.resolve(".metadata") + ": no storage_data entry for '"
          + index.fqn() + "'" + index.offset().map(offset -> " at " + offset).orElse(""));
    }
    return location;
  }

  /** The torch archive stored at {@code location} (an item of {@code key}); {@code where} names it in errors. */
  private TorchArchive archive(Location location, String key, String where) {
    FileOrigin origin = new FileOrigin(directory.resolve(location.relativePath()).toAbsolutePath(), location.offset());
    return TorchArchive.open(slice(location, key), origin, where, checks);
  }

  /** {@code common.pt}, a torch archive occupying the whole file. */
  private TorchArchive commonArchive(Path commonFile) {
    return TorchArchive.open(mappedFile(commonFile), new FileOrigin(commonFile.toAbsolutePath(), 0),
        commonFile.toString(), checks);
  }

  private MemorySegment slice(Location location, String key) {
    Path file = directory.resolve(location.relativePath());
    MemorySegment mapped = mappedFile(file);
    if (location.offset() > mapped.byteSize() || location.length() > mapped.byteSize() - location.offset()) {
      throw new CheckpointFormatException(file + ": '" + key + "' is stored at [" + location.offset() + ", +"
          + location.length() + "), beyond the file's " + mapped.byteSize() + " bytes");
    }
    return mapped.asSlice(location.offset(), location.length());
  }

  private MemorySegment mappedFile(Path file) {
    return mappedFiles.computeIfAbsent(file.toString(), ignored -> {
      if (!Files.isRegularFile(file)) {
        throw new CheckpointFormatException(file + ": data file is missing");
      }
      return map(file, arena);
    });
  }

  @Override
  public void close() {
    checks.close();
    arena.close();
  }

  /** A chunk's stored tensor at its global offsets. */
  record PlacedChunk(long[] offsets, Tensor data) {}

  /**
   * Rebuilds a global tensor from chunks that tile it. The tiling is split recursively at a cut that no
   * chunk straddles (every Megatron/DCP tiling is such a guillotine tiling: TP/EP/layer grids, swiglu
   * halves); a region that ends with one chunk must be exactly that chunk, so gaps and overlaps are errors.
   */
  static final class ChunkAssembly {
    private ChunkAssembly() {}

    static Tensor assemble(String where, DType dtype, Shape global, List<PlacedChunk> chunks) {
      if (global.numel() == 0) {
        return Tensor.of(dtype, global, MemorySegment.ofArray(new byte[0]));
      }
      for (PlacedChunk chunk : chunks) {
        for (int axis = 0; axis < global.rank(); axis++) {
          if (chunk.offsets()[axis] + chunk.data().shape().dim(axis) > global.dim(axis)) {
            throw new CheckpointFormatException(where + ": chunk at " + Arrays.toString(chunk.offsets())
                + " of shape " + chunk.data().shape() + " lies outside " + global);
          }
        }
      }
      return region(where, new long[global.rank()], global.toArray(), chunks.stream()
          .filter(chunk -> chunk.data().numel() > 0).toList());
    }

    private static Tensor region(String where, long[] start, long[] size, List<PlacedChunk> chunks) {
      if (chunks.isEmpty()) {
        throw new CheckpointFormatException(where + ": no chunk covers the region at " + Arrays.toString(start)
            + " of size " + Arrays.toString(size));
      }
      if (chunks.size() == 1) {
        PlacedChunk only = chunks.getFirst();
        if (!Arrays.equals(only.offsets(), start) || !Arrays.equals(only.data().shape().toArray(), size)) {
          throw new CheckpointFormatException(where + ": chunks leave a gap in the region at "
              + Arrays.toString(start) + " of size " + Arrays.toString(size));
        }
        return only.data();
      }
      for (int axis = 0; axis < start.length; axis++) {
        long regionEnd = start[axis] + size[axis];
        TreeSet<Long> cuts = new TreeSet<>();
        for (PlacedChunk chunk : chunks) {
          cuts.add(chunk.offsets()[axis]);
          cuts.add(chunk.offsets()[axis] + chunk.data().shape().dim(axis));
        }
        int currentAxis = axis;
        cuts.removeIf(cut -> cut <= start[currentAxis] || cut >= regionEnd);
        cuts.removeIf(cut -> chunks.stream().anyMatch(chunk -> chunk.offsets()[currentAxis] < cut
            && cut < chunk.offsets()[currentAxis] + chunk.data().shape().dim(currentAxis)));
        if (cuts.isEmpty()) {
          continue;
        }
        List<Tensor> slabs = new ArrayList<>();
        long slabStart = start[axis];
        List<Long> bounds = new ArrayList<>(cuts);
        bounds.add(regionEnd);
        for (long slabEnd : bounds) {
          long from = slabStart;
          List<PlacedChunk> inside = chunks.stream()
              .filter(chunk -> chunk.offsets()[currentAxis] >= from && chunk.offsets()[currentAxis] < slabEnd)
              .toList();
          long[] slabStartIndex = start.clone();
          long[] slabSize = size.clone();
          slabStartIndex[axis] = from;
          slabSize[axis] = slabEnd - from;
          slabs.add(region(where, slabStartIndex, slabSize, inside));
          slabStart = slabEnd;
        }
        return Tensor.concat(axis, slabs);
      }
      throw new CheckpointFormatException(where + ": " + chunks.size() + " chunks overlap in the region at "
          + Arrays.toString(start) + " of size " + Arrays.toString(size));
    }
  }
}
