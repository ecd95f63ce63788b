package dev.megabridge.core.convert;

import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Megatron shards folder → HF folder with the source's names, dtypes (or a requested one), expert layout,
 * file split (or a maximum shard size) and small files.
 */
public final class Exporter {

  /**
   * @param dtype target dtype of floating tensors; empty keeps each tensor's dtype
   * @param maxShardBytes when present, re-shard by size instead of mirroring the source's files
   */
  public record Options(Optional<DType> dtype, Optional<Long> maxShardBytes, boolean overwrite) {}

  public record Summary(String architecture, int tensors, int files, long bytesWritten, Path output) {}

  /** Output files written at once: one per CPU (more showed no gain, see {@code Parallel.defaultFileThreads}). */
  public static final int FILES_AT_ONCE = Runtime.getRuntime().availableProcessors();

  private Exporter() {}

  public static Summary run(Path megatronDirectory, Path output, Options options, AutoBridge autoBridge,
      Progress progress) {
    try (MegatronCheckpoint checkpoint = MegatronCheckpoint.open(megatronDirectory, autoBridge)) {
      LinkedHashMap<String, Tensor> tensors = convertDtypes(checkpoint.model(), checkpoint.hfTensors(),
          options.dtype());
      long bytes = tensors.values().stream().mapToLong(Tensor::byteSize).sum();
      progress.start("export", bytes);
      Map<String, String> written;
      try (OutputDirectory out = OutputDirectory.create(output, options.overwrite(), List.of(megatronDirectory))) {
        written = write(out.path(), checkpoint, tensors, options.maxShardBytes(), progress);
        HfFiles.copy(megatronDirectory.resolve(ShardsManifest.HF_FILES_DIR), out.path(),
            checkpoint.manifest().hfFiles());
        HfDtypes.matchConfig(out.path(), options.dtype());
        out.commit();
      } finally {
        progress.finish();
      }
      return new Summary(checkpoint.model().architecture(), tensors.size(),
          (int) written.values().stream().distinct().count(), bytes, output.toAbsolutePath().normalize());
    }
  }

  /** Floating tensors converted to {@code dtype} when given, the bridge's float32-by-design ones kept F32. */
  static LinkedHashMap<String, Tensor> convertDtypes(BridgeModel model, LinkedHashMap<String, Tensor> tensors,
      Optional<DType> dtype) {
    if (dtype.isEmpty()) {
      return tensors;
    }
    LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
    tensors.forEach((name, tensor) -> out.put(name, HfDtypes.forExport(model, name, tensor, dtype)));
    return out;
  }

  private static Map<String, String> write(Path folder, MegatronCheckpoint checkpoint, LinkedHashMap<String, Tensor> tensors,
      Optional<Long> maxShardBytes, Progress progress) {
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    tensors.forEach((name, tensor) -> entries.add(new SafetensorsWriter.Entry(name, tensor)));
    if (maxShardBytes.isPresent()) {
      return SafetensorsWriter.writeSharded(folder, entries, maxShardBytes.get(), FILES_AT_ONCE, progress::advance);
    }
    // Mirror the source's key → file map (megatron-bridge-spec §6.3): same files, same membership.
    Map<String, List<SafetensorsWriter.Entry>> byFile = new LinkedHashMap<>();
    Map<String, HfTensorInfo> infos = checkpoint.manifest().hfTensorMap();
    for (SafetensorsWriter.Entry entry : entries) {
      byFile.computeIfAbsent(infos.get(entry.name()).file(), file -> new ArrayList<>()).add(entry);
    }
    List<String> names = new ArrayList<>(byFile.keySet());
    List<List<SafetensorsWriter.Entry>> shards = new ArrayList<>(byFile.values());
    if (names.size() == 1 && !names.getFirst().equals(dev.megabridge.core.io.safetensors.SafetensorsCheckpoint.SINGLE_FILE)) {
      names = List.of(dev.megabridge.core.io.safetensors.SafetensorsCheckpoint.SINGLE_FILE);
    }
    return SafetensorsWriter.writeShards(folder, shards, names, FILES_AT_ONCE, progress::advance);
  }
}
