package dev.megabridge.core.convert;

import dev.megabridge.core.config.ConfigFiles;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.UnsupportedModelException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.quant.Fp8Quantization;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes the HF view of a checkpoint as an HF folder (docs/formats.md §1), for every export: the tensors in a
 * requested dtype (the bridge's float32-by-design tensors kept) and optionally as blockwise FP8, split into files
 * as the source was (each tensor in the file the source had it in, an FP8 scale beside its weight, one file named
 * {@code model.safetensors}) or by a maximum shard size, then the small files and a {@code config.json} that
 * states the dtype and quantization of what was written.
 */
public final class HfFolderWriter {
  /** Output files written at once unless asked otherwise: one per CPU. */
  public static final int FILES_AT_ONCE = Runtime.getRuntime().availableProcessors();

  private HfFolderWriter() {}

  /**
   * What to write besides the tensors' own dtypes and names.
   *
   * @param filesAtOnce output files written in parallel
   */
  public record Options(Optional<DType> dtype, Optional<Fp8Blocks> quantize, int filesAtOnce) {
    public Options {
      if (filesAtOnce < 1) {
        throw new IllegalArgumentException("files at once must be positive, got " + filesAtOnce);
      }
    }

    public Options(Optional<DType> dtype, Optional<Fp8Blocks> quantize) {
      this(dtype, quantize, FILES_AT_ONCE);
    }
  }

  /** The tensors as written: names in order, plus the FP8 settings when quantized. */
  public record Prepared(LinkedHashMap<String, Tensor> tensors, Optional<Fp8Config> fp8) {
    public long byteSize() {
      return tensors.values().stream().mapToLong(Tensor::byteSize).sum();
    }
  }

  /** The HF view converted as {@code options} asks (lazy: nothing is read). */
  public static Prepared prepare(BridgeModel model, Map<String, Tensor> hfTensors, Options options) {
    LinkedHashMap<String, Tensor> converted = new LinkedHashMap<>();
    hfTensors.forEach((name, tensor) -> converted.put(name, HfDtypes.forExport(model, name, tensor, options.dtype())));
    if (options.quantize().isEmpty()) {
      return new Prepared(converted, Optional.empty());
    }
    Fp8Blocks blocks = options.quantize().get();
    Fp8Quantization quantization = Fp8Quantization.of(converted, model.fp8Policy().orElseThrow(
        () -> new UnsupportedModelException(model.architecture() + " (" + model.bridge().name()
            + ") has no FP8 rule set")), blocks.rows(), blocks.columns());
    return new Prepared(quantization.tensors(), Optional.of(quantization.config()));
  }

  /**
   * Writes the tensors of {@code prepared} into {@code folder}: by {@code maxShardBytes} when given, else into the
   * files {@code sourceFiles} records. Returns tensor name → file name.
   */
  public static Map<String, String> writeTensors(Path folder, Prepared prepared, Map<String, HfTensorInfo> sourceFiles,
      Optional<Long> maxShardBytes, Options options, Progress progress) {
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    prepared.tensors().forEach((name, tensor) -> entries.add(new SafetensorsWriter.Entry(name, tensor)));
    if (maxShardBytes.isPresent()) {
      return SafetensorsWriter.writeSharded(folder, entries, maxShardBytes.get(), options.filesAtOnce(),
          progress::advance);
    }
    Map<String, List<SafetensorsWriter.Entry>> byFile = new LinkedHashMap<>();
    for (SafetensorsWriter.Entry entry : entries) {
      byFile.computeIfAbsent(sourceFile(entry.name(), sourceFiles), file -> new ArrayList<>()).add(entry);
    }
    List<String> names = new ArrayList<>(byFile.keySet());
    if (names.size() == 1) {
      names = List.of(SafetensorsCheckpoint.SINGLE_FILE);
    }
    return SafetensorsWriter.writeShards(folder, new ArrayList<>(byFile.values()), names, options.filesAtOnce(),
        progress::advance);
  }

  /** The recorded source file of {@code name}; an FP8 scale goes where its weight goes. */
  private static String sourceFile(String name, Map<String, HfTensorInfo> sourceFiles) {
    HfTensorInfo info = sourceFiles.get(name);
    if (info == null && Fp8Config.isScaleName(name)) {
      info = sourceFiles.get(Fp8Config.weightOfScale(name));
    }
    if (info == null) {
      throw new IllegalStateException("no recorded source file for '" + name + "'");
    }
    return info.file();
  }

  /** Copies the small files and makes {@code config.json} state the requested dtype and quantization. */
  public static void writeSmallFiles(Path folder, Path smallFilesDirectory, List<String> smallFiles, Options options,
      Prepared prepared) {
    HfFiles.copy(smallFilesDirectory, folder, smallFiles);
    HfDtypes.matchConfig(folder, options.dtype());
    Path config = folder.resolve(HfConfig.FILE_NAME);
    if (prepared.fp8().isPresent() && Files.isRegularFile(config)) {
      ConfigFiles.rewrite(config, root -> prepared.fp8().get().writeInto(root));
    } else if (Files.isRegularFile(config) && HfConfig.load(folder).raw().has(Fp8Config.KEY)) {
      // The source was FP8 and was read dequantized: what is written here is not.
      ConfigFiles.rewrite(config, root -> root.remove(Fp8Config.KEY));
    }
  }
}
