package dev.megabridge.core.io.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.SafeNames;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face weight folder: a single {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. Owns one shared arena holding every mapping; closing the checkpoint
 * unmaps all files, after which no tensor of it may be touched.
 */
public final class SafetensorsCheckpoint implements TensorSource, AutoCloseable {

  public static final String SINGLE_FILE = "model.safetensors";
  public static final String INDEX_FILE = "model.safetensors.index.json";

  private final Path directory;
  private final Arena arena;
  private final Map<String, SafetensorsFile> fileOf;
  private final Map<String, TensorInfo> infoOf;
  private final List<String> names;
  private final List<SafetensorsFile> files;

  private SafetensorsCheckpoint(Path directory, Arena arena, Map<String, SafetensorsFile> fileOf,
      Map<String, TensorInfo> infoOf, List<SafetensorsFile> files) {
    this.directory = directory;
    this.arena = arena;
    this.fileOf = fileOf;
    this.infoOf = infoOf;
    this.names = List.copyOf(infoOf.keySet());
    this.files = List.copyOf(files);
  }

  /** Whether {@code directory} holds safetensors weights in a form {@link #open} understands. */
  public static boolean isPresent(Path directory) {
    return Files.isRegularFile(directory.resolve(INDEX_FILE)) || Files.isRegularFile(directory.resolve(SINGLE_FILE));
  }

  public static SafetensorsCheckpoint open(Path directory) {
    Arena arena = Arena.ofShared();
    try {
      Path index = directory.resolve(INDEX_FILE);
      Path single = directory.resolve(SINGLE_FILE);
      if (Files.isRegularFile(index) && Files.isRegularFile(single)) {
        // transformers loads model.safetensors and ignores the index; other readers take the index: which
        // weights are meant is a guess, so neither is taken.
        throw new CheckpointFormatException(directory + ": holds both " + single + " and " + index
            + "; it is ambiguous which one holds the weights (remove one of them)");
      }
      if (Files.isRegularFile(index)) {
        return openIndexed(directory, index, arena);
      }
      if (Files.isRegularFile(single)) {
        SafetensorsFile file = SafetensorsFile.open(single, arena);
        Map<String, SafetensorsFile> fileOf = new LinkedHashMap<>();
        for (String name : file.entries().keySet()) {
          fileOf.put(name, file);
        }
        return new SafetensorsCheckpoint(directory, arena, fileOf, new LinkedHashMap<>(file.entries()),
            List.of(file));
      }
      throw new CheckpointFormatException(directory + ": no " + SINGLE_FILE + " or " + INDEX_FILE);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  /** Opens explicitly listed files (e.g. a Megatron rank folder) as one source; names must be unique. */
  public static SafetensorsCheckpoint openFiles(Path directory, List<Path> paths) {
    Arena arena = Arena.ofShared();
    try {
      Map<String, SafetensorsFile> fileOf = new LinkedHashMap<>();
      Map<String, TensorInfo> infoOf = new LinkedHashMap<>();
      List<SafetensorsFile> files = new ArrayList<>();
      for (Path path : paths) {
        SafetensorsFile file = SafetensorsFile.open(path, arena);
        files.add(file);
        for (TensorInfo info : file.entries().values()) {
          SafetensorsFile previous = fileOf.putIfAbsent(info.name(), file);
          if (previous != null) {
            throw new CheckpointFormatException(path + ": tensor '" + info.name() + "' is also in "
                + previous.path().getFileName());
          }
          infoOf.put(info.name(), info);
        }
      }
      return new SafetensorsCheckpoint(directory, arena, fileOf, infoOf, files);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  private static SafetensorsCheckpoint openIndexed(Path directory, Path index, Arena arena) {
    JsonNode root;
    try {
      root = SafetensorsFile.JSON.readTree(Files.readString(index));
    } catch (JsonProcessingException e) {
      throw new CheckpointFormatException(index + ": not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new CheckpointFormatException(index + ": cannot read: " + e.getMessage(), e);
    }
    JsonNode weightMap = root == null ? null : root.get("weight_map");
    if (weightMap == null || !weightMap.isObject()) {
      throw new CheckpointFormatException(index + ": missing object 'weight_map'");
    }
    Map<String, String> shardOf = new LinkedHashMap<>();
    Set<String> shardNames = new LinkedHashSet<>();
    for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
      if (!entry.getValue().isTextual()) {
        throw new CheckpointFormatException(index + ": weight_map entry '" + entry.getKey() + "' is not a string");
      }
      String shard = entry.getValue().textValue();
      if (!isPlainFileName(shard)) {
        throw new CheckpointFormatException(index + ": tensor '" + entry.getKey() + "': shard name '" + shard
            + "' is not a plain file name");
      }
      shardOf.put(entry.getKey(), shard);
      shardNames.add(shard);
    }
    Map<String, SafetensorsFile> opened = new LinkedHashMap<>();
    List<SafetensorsFile> files = new ArrayList<>();
    for (String shard : shardNames) {
      Path path = directory.resolve(shard);
      if (!Files.isRegularFile(path)) {
        String firstTensor = shardOf.entrySet().stream().filter(entry -> entry.getValue().equals(shard))
            .map(Map.Entry::getKey).findFirst().orElseThrow();
        throw new CheckpointFormatException(index + ": names shard '" + shard + "' (for tensor '" + firstTensor
            + "'), which does not exist");
      }
      SafetensorsFile file = SafetensorsFile.open(path, arena);
      opened.put(shard, file);
      files.add(file);
    }
    Map<String, SafetensorsFile> fileOf = new LinkedHashMap<>();
    Map<String, TensorInfo> infoOf = new LinkedHashMap<>();
    for (SafetensorsFile file : files) {
      String shard = file.path().getFileName().toString();
      for (TensorInfo info : file.entries().values()) {
        String listed = shardOf.get(info.name());
        if (listed == null) {
          throw new CheckpointFormatException(file.path() + ": tensor '" + info.name()
              + "' is not listed in " + INDEX_FILE);
        }
        if (!listed.equals(shard)) {
          throw new CheckpointFormatException(file.path() + ": tensor '" + info.name()
              + "' is duplicated: the index places it in " + listed);
        }
        fileOf.put(info.name(), file);
        infoOf.put(info.name(), info);
      }
    }
    for (Map.Entry<String, String> entry : shardOf.entrySet()) {
      if (!infoOf.containsKey(entry.getKey())) {
        throw new CheckpointFormatException(directory.resolve(entry.getValue()) + ": lacks tensor '"
            + entry.getKey() + "' that " + INDEX_FILE + " places there");
      }
    }
    return new SafetensorsCheckpoint(directory, arena, fileOf, infoOf, files);
  }

  /** A name that resolves to a file directly inside the checkpoint folder (no separators, NUL or dots). */
  private static boolean isPlainFileName(String name) {
    return SafeNames.isPlainName(name);
  }

  public Path directory() {
    return directory;
  }

  public List<SafetensorsFile> files() {
    return files;
  }

  /** File name of each tensor, in name order (the source's key → file map). */
  public Map<String, String> fileNames() {
    Map<String, String> out = new LinkedHashMap<>();
    for (String name : names) {
      out.put(name, fileOf.get(name).path().getFileName().toString());
    }
    return Collections.unmodifiableMap(out);
  }

  public TensorInfo info(String name) {
    TensorInfo info = infoOf.get(name);
    if (info == null) {
      throw new CheckpointFormatException(directory + ": no tensor '" + name + "'");
    }
    return info;
  }

  @Override
  public List<String> names() {
    return names;
  }

  @Override
  public boolean contains(String name) {
    return infoOf.containsKey(name);
  }

  @Override
  public DType dtype(String name) {
    return info(name).dtype();
  }

  @Override
  public Shape shape(String name) {
    return info(name).shape();
  }

  @Override
  public StridedTensor tensor(String name) {
    info(name);
    return fileOf.get(name).tensor(name);
  }

  @Override
  public String location(String name) {
    SafetensorsFile file = fileOf.get(name);
    return file == null ? directory.toString() : file.path().toString();
  }

  @Override
  public void close() {
    arena.close();
  }
}
