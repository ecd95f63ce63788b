package dev.megabridge.core.io.torchdist;

import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.io.FileSink;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * Writes a Megatron {@code torch_dist} checkpoint without torch (docs/formats.md §3, §3.4–§3.8): {@code .distcp}
 * data files of concatenated torch archives, the DCP {@code .metadata}, a legacy {@code common.pt} (read
 * by every Megatron ≥ v0.16, including v0.19 which prefers it) and the 4-field {@code metadata.json}, last; or,
 * asked for ({@link MegatronCommonState.Storage#SHARDED}), Megatron v0.19's form: the common state as a bytes
 * item in the data files and the 2-field {@code metadata.json}.
 * Tensor bytes stream from the lazy chunk {@link Tensor}s through one bounded buffer per data file; the
 * model is never materialised. The output folder appears atomically ({@link OutputDirectory}).
 */
public final class TorchDistWriter {

  /** Megatron ≤ v0.18 form; v0.19 keeps only the first two fields and accepts it (docs/formats.md §3.4). */
  static final String METADATA_JSON = "{\"sharded_backend\": \"torch_dist\", \"sharded_backend_version\": 1, "
      + "\"common_backend\": \"torch\", \"common_backend_version\": 1}";
  /** Megatron ≥ v0.19, whose common state is a bytes item: no common backend (docs/formats.md §3.4). */
  static final String METADATA_JSON_SHARDED_COMMON =
      "{\"sharded_backend\": \"torch_dist\", \"sharded_backend_version\": 1}";
  static final String TRACKER_FILE = "latest_checkpointed_iteration.txt";
  static final String RELEASE = "release";

  private TorchDistWriter() {}

  /** One chunk of a tensor key: its origin in the global tensor and its data (whose shape is the chunk's). */
  public record ChunkData(List<Long> offsets, Tensor data) {
    public ChunkData {
      offsets = List.copyOf(offsets);
    }
  }

  /**
   * A tensor key with its global shape and dtype; the chunks must lie inside the global shape, share its
   * dtype and rank, and their volumes must add up to the global volume (Megatron's non-overlapping tiling).
   */
  public record TensorEntry(String key, DType dtype, Shape globalShape, List<ChunkData> chunks) {
    public TensorEntry {
      chunks = List.copyOf(chunks);
      if (chunks.isEmpty()) {
        throw new InternalException("tensor key '" + key + "' has no chunks");
      }
      long volume = 0;
      for (ChunkData chunk : chunks) {
        Tensor data = chunk.data();
        if (data.dtype() != dtype) {
          throw new InternalException("chunk of '" + key + "' is " + data.dtype() + ", the key is " + dtype);
        }
        if (chunk.offsets().size() != globalShape.rank() || data.shape().rank() != globalShape.rank()) {
          throw new InternalException("chunk " + chunk.offsets() + data.shape() + " of '" + key
              + "' does not have the rank of " + globalShape);
        }
        for (int axis = 0; axis < globalShape.rank(); axis++) {
          long start = chunk.offsets().get(axis);
          if (start < 0 || start + data.shape().dim(axis) > globalShape.dim(axis)) {
            throw new InternalException("chunk " + chunk.offsets() + data.shape() + " of '" + key
                + "' lies outside " + globalShape);
          }
        }
        volume += data.numel();
      }
      if (volume != globalShape.numel()) {
        throw new InternalException("chunks of '" + key + "' cover " + volume + " elements of "
            + globalShape.numel());
      }
    }

    /** A key stored as a single chunk. */
    public static TensorEntry whole(String key, Tensor data) {
      return new TensorEntry(key, data.dtype(), data.shape(),
          List.of(new ChunkData(Collections.nCopies(data.shape().rank(), 0L), data)));
    }
  }

  /** A DCP bytes item: {@code bytes} are stored verbatim (normally a torch archive, docs/formats.md §3.7). */
  public record BytesEntry(String key, byte[] bytes) {
    public BytesEntry {
      bytes = bytes.clone();
    }

    @Override
    public byte[] bytes() {
      return bytes.clone();
    }

    /** A Megatron ShardedObject: {@code torch.save([value])} (value without tensors). */
    public static BytesEntry shardedObject(String key, PickleValue value) {
      return new BytesEntry(key, new TorchArchiveWriter("archive").toBytes(new PyList(List.of(value))));
    }

    /** TE's {@code _extra_state} without FP8: {@code torch.save([torch.empty(0, dtype=torch.uint8)])}. */
    public static BytesEntry emptyExtraState(String key) {
      TorchArchiveWriter archive = new TorchArchiveWriter("archive");
      Tensor empty = Tensor.of(DType.U8, Shape.of(0), MemorySegment.ofArray(new byte[0]));
      PickleValue tensor = archive.addTensor(empty);
      return new BytesEntry(key, archive.toBytes(new PyList(List.of(tensor))));
    }
  }

  /**
   * Everything a checkpoint holds: tensor keys, bytes items, and the common state dict written to
   * {@code common.pt} (see {@link MegatronCommonState}).
   */
  public record Contents(List<TensorEntry> tensors, List<BytesEntry> bytesItems, PyDict commonState) {
    public Contents {
      tensors = List.copyOf(tensors);
      bytesItems = List.copyOf(bytesItems);
      Set<String> keys = new HashSet<>();
      for (TensorEntry entry : tensors) {
        if (!keys.add(entry.key())) {
          throw new InternalException("key '" + entry.key() + "' written twice");
        }
      }
      for (BytesEntry entry : bytesItems) {
        if (!keys.add(entry.key())) {
          throw new InternalException("key '" + entry.key() + "' written twice");
        }
      }
    }
  }

  /**
   * @param dataFiles how many {@code __0_<n>.distcp} files to spread the items over (written in parallel)
   * @param commonState where the common state goes: {@code common.pt} or a bytes item in the DCP files
   */
  public record Options(int dataFiles, MegatronCommonState.Storage commonState) {
    public Options {
      if (dataFiles < 1 || dataFiles > 64) {
        throw new InternalException("data file count " + dataFiles + " outside 1..64");
      }
    }

    /** The legacy {@code common.pt}. */
    public Options(int dataFiles) {
      this(dataFiles, MegatronCommonState.Storage.LEGACY);
    }

    public static Options defaults() {
      return new Options(1);
    }
  }

  /** What was written: the checkpoint folder (the one DCP/Megatron loads) and its byte count. */
  public record Summary(Path checkpointDirectory, List<String> dataFiles, long dataBytes) {}

  /**
   * Writes a Megatron save folder: {@code saveDir/latest_checkpointed_iteration.txt} = {@code release} and
   * the checkpoint in {@code saveDir/release/} (docs/formats.md §3.4). {@code progress} receives tensor byte counts
   * (from the writing threads).
   */
  public static Summary writeRelease(Path saveDir, Contents contents, Options options, boolean overwrite,
      LongConsumer progress) {
    return writeRelease(saveDir, contents, options, overwrite, progress, directory -> {});
  }

  /**
   * {@link #writeRelease(Path, Contents, Options, boolean, LongConsumer)}, then {@code extraFiles} adds files
   * of its own to the (still staged) checkpoint folder before the output is committed; Megatron and DCP
   * ignore files they do not know.
   */
  public static Summary writeRelease(Path saveDir, Contents contents, Options options, boolean overwrite,
      LongConsumer progress, Consumer<Path> extraFiles) {
    try (OutputDirectory output = OutputDirectory.create(saveDir, overwrite)) {
      Path release = output.path().resolve(RELEASE);
      createDirectory(release);
      Summary summary = writeInto(release, contents, options, progress);
      extraFiles.accept(release);
      writeString(output.path().resolve(TRACKER_FILE), RELEASE);
      output.commit();
      return new Summary(output.target().resolve(RELEASE), summary.dataFiles(), summary.dataBytes());
    }
  }

  /** Writes just the checkpoint folder (what {@code dcp.load} or {@code dist_checkpointing.load} opens). */
  public static Summary writeCheckpointDirectory(Path directory, Contents contents, Options options,
      boolean overwrite, LongConsumer progress) {
    try (OutputDirectory output = OutputDirectory.create(directory, overwrite)) {
      Summary summary = writeInto(output.path(), contents, options, progress);
      output.commit();
      return new Summary(output.target(), summary.dataFiles(), summary.dataBytes());
    }
  }

  /** An item placed in a data file. */
  private sealed interface Item permits TensorItem, BytesItem {
    long size();
  }

  private record TensorItem(String key, ChunkData chunk) implements Item {
    public long size() {
      return chunk.data().byteSize();
    }
  }

  private record BytesItem(BytesEntry entry) implements Item {
    public long size() {
      return entry.bytes.length;
    }
  }

  /** Where an item ended up. */
  private record Placed(Item item, DcpMetadata.Location location) {}

  private static Summary writeInto(Path directory, Contents contents, Options options, LongConsumer progress) {
    // Greedy balance: each item goes to the currently smallest file; bytes items first, as Megatron does.
    int fileCount = options.dataFiles();
    List<List<Item>> files = new ArrayList<>();
    long[] fileSizes = new long[fileCount];
    for (int index = 0; index < fileCount; index++) {
      files.add(new ArrayList<>());
    }
    boolean sharded = options.commonState() == MegatronCommonState.Storage.SHARDED;
    List<BytesEntry> bytesItems = new ArrayList<>(contents.bytesItems());
    if (sharded) {
      // As Megatron ≥ v0.19 saves it: the last bytes item, torch.save([common dict]).
      if (bytesItems.stream().anyMatch(entry -> entry.key().equals(MegatronCommonState.SHARDED_KEY))) {
        throw new InternalException("key '" + MegatronCommonState.SHARDED_KEY + "' written twice");
      }
      bytesItems.add(BytesEntry.shardedObject(MegatronCommonState.SHARDED_KEY, contents.commonState()));
    }
    List<Item> items = new ArrayList<>();
    bytesItems.forEach(entry -> items.add(new BytesItem(entry)));
    for (TensorEntry entry : contents.tensors()) {
      entry.chunks().forEach(chunk -> items.add(new TensorItem(entry.key(), chunk)));
    }
    for (Item item : items) {
      int smallest = 0;
      for (int index = 1; index < fileCount; index++) {
        if (fileSizes[index] < fileSizes[smallest]) {
          smallest = index;
        }
      }
      files.get(smallest).add(item);
      fileSizes[smallest] += item.size();
    }
    List<String> fileNames = new ArrayList<>();
    for (int index = 0; index < fileCount; index++) {
      fileNames.add("__0_" + index + ".distcp");
    }
    List<List<Placed>> locations = writeDataFiles(directory, fileNames, files, progress);

    Map<String, DcpMetadata.StorageMetadata> keys = new LinkedHashMap<>();
    Map<DcpMetadata.Index, DcpMetadata.Location> storage = new LinkedHashMap<>();
    for (TensorEntry entry : contents.tensors()) {
      keys.put(entry.key(), new DcpMetadata.TensorStorage(entry.dtype(), entry.globalShape(),
          entry.chunks().stream().map(chunk -> new DcpMetadata.Chunk(chunk.offsets(), chunk.data().shape())).toList()));
    }
    for (BytesEntry entry : bytesItems) {
      keys.put(entry.key(), new DcpMetadata.BytesStorage());
    }
    long dataBytes = 0;
    for (List<Placed> fileLocations : locations) {
      for (Placed placed : fileLocations) {
        DcpMetadata.Index index = switch (placed.item()) {
          case TensorItem tensor -> DcpMetadata.Index.ofChunk(tensor.key(), tensor.chunk().offsets());
          case BytesItem bytes -> DcpMetadata.Index.ofBytes(bytes.entry().key());
        };
        storage.put(index, placed.location());
        dataBytes += placed.location().length();
      }
    }
    writeBytes(directory.resolve(".metadata"), new DcpMetadata(keys, storage).encode());
    if (!sharded) {
      writeBytes(directory.resolve("common.pt"), new TorchArchiveWriter("common").toBytes(contents.commonState()));
    }
    writeString(directory.resolve("metadata.json"), sharded ? METADATA_JSON_SHARDED_COMMON : METADATA_JSON);
    return new Summary(directory, fileNames, dataBytes);
  }

  private static List<List<Placed>> writeDataFiles(Path directory, List<String> fileNames,
      List<List<Item>> files, LongConsumer progress) {
    if (files.size() == 1) {
      return List.of(writeDataFile(directory.resolve(fileNames.getFirst()), fileNames.getFirst(), files.getFirst(),
          progress));
    }
    ExecutorService executor = Executors.newFixedThreadPool(
        Math.min(files.size(), Math.max(1, Runtime.getRuntime().availableProcessors())));
    try {
      List<Future<List<Placed>>> futures = new ArrayList<>();
      for (int index = 0; index < files.size(); index++) {
        String name = fileNames.get(index);
        List<Item> fileItems = files.get(index);
        futures.add(executor.submit(() -> writeDataFile(directory.resolve(name), name, fileItems, progress)));
      }
      List<List<Placed>> results = new ArrayList<>();
      for (Future<List<Placed>> future : futures) {
        results.add(future.get());
      }
      return results;
    } catch (ExecutionException e) {
      switch (e.getCause()) {
        case BridgeException bridge -> throw bridge;
        case UncheckedIOException io -> throw io;
        default -> throw new InternalException("writing a data file failed: " + e.getCause(), e.getCause());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InternalException("interrupted while writing data files", e);
    } finally {
      executor.shutdownNow();
    }
  }

  private static List<Placed> writeDataFile(Path file, String name, List<Item> items, LongConsumer progress) {
    List<Placed> locations = new ArrayList<>();
    try (FileSink sink = FileSink.create(file)) {
      for (Item item : items) {
        long start = sink.position();
        switch (item) {
          case BytesItem bytes -> sink.write(bytes.entry().bytes);
          case TensorItem tensor -> {
            TorchArchiveWriter archive = new TorchArchiveWriter("archive");
            PickleValue reference = archive.addTensor(tensor.chunk().data());
            archive.write(sink, reference);
            progress.accept(tensor.size());
          }
        }
        locations.add(new Placed(item, new DcpMetadata.Location(name, start, sink.position() - start)));
      }
    }
    return locations;
  }

  private static void createDirectory(Path directory) {
    try {
      Files.createDirectories(directory);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + directory + ": " + e.getMessage(), e);
    }
  }

  private static void writeBytes(Path file, byte[] bytes) {
    try {
      Files.write(file, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": write failed: " + e.getMessage(), e);
    }
  }

  private static void writeString(Path file, String text) {
    writeBytes(file, text.getBytes(StandardCharsets.UTF_8));
  }
}
