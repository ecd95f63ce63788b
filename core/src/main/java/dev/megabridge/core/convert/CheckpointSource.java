package dev.megabridge.core.convert;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.torchdist.TorchDistCheckpoint;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.io.MapTensorSource;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.quant.Fp8DequantizedSource;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.DType;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The HF tensors of a checkpoint in any of the three forms — an HF folder, a megabridge Megatron shards
 * folder or a torch_dist checkpoint — with what writing them anywhere needs: the HF config, the tensor
 * list (names, dtypes, shapes, files, in source order) and the small files. Tensors are lazy views over the
 * memory-mapped source, valid until {@link #close()}.
 *
 * @param recordedFiles whether {@code infos} carry the source's real file split (false for a Megatron
 *     torch_dist checkpoint opened with only an HF config)
 */
public record CheckpointSource(Path location, TensorSource tensors, HfConfig config, List<HfTensorInfo> infos,
    boolean recordedFiles, Path smallFilesDirectory, List<String> smallFiles, AutoCloseable resource)
    implements AutoCloseable {

  public CheckpointSource {
    infos = List.copyOf(infos);
    smallFiles = List.copyOf(smallFiles);
  }

  /** Which Megatron form a folder holds. */
  public enum MegatronForm {
    SHARDS,
    TORCH_DIST
  }

  /** An HF folder: config, safetensors and small files; mixed dtypes are an error. */
  public static CheckpointSource openHf(Path directory) {
    return openHf(directory, AutoBridge.discover(), HfDtypes.Policy.strict());
  }

  /**
   * An HF folder: config, safetensors and small files, their dtypes checked under {@code dtypes}; a blockwise FP8
   * folder is read dequantized to bf16, what Megatron trains in.
   */
  public static CheckpointSource openHf(Path directory, AutoBridge autoBridge, HfDtypes.Policy dtypes) {
    return openHf(directory, autoBridge, dtypes, DType.BF16);
  }

  /** As {@link #openHf(Path, AutoBridge, HfDtypes.Policy)}, a blockwise FP8 folder read as {@code fp8Target}. */
  public static CheckpointSource openHf(Path directory, AutoBridge autoBridge, HfDtypes.Policy dtypes,
      DType fp8Target) {
    HfConfig config = HfConfig.load(directory);
    SafetensorsCheckpoint files = SafetensorsCheckpoint.open(directory);
    try {
      TensorSource checkpoint = Fp8DequantizedSource.viewOf(config, files, fp8Target);
      Map<String, HfTensorInfo> infos = HfTensorInfo.of(checkpoint, files.fileNames());
      // The bridge's naming options do not change which tensors are float32 by design.
      BridgeModel model = autoBridge.fromConfig(config, Optional.of(new LinkedHashSet<>(infos.keySet())),
          BridgeOptions.defaults());
      HfDtypes.check(model, infos.values(), directory, dtypes);
      return new CheckpointSource(directory, checkpoint, config, List.copyOf(infos.values()), true,
          directory, HfFiles.smallFiles(directory), files);
    } catch (RuntimeException e) {
      files.close();
      throw e;
    }
  }

  /**
   * A checkpoint of any form megabridge reads: a shards folder, a torch_dist checkpoint ({@code hfConfig} for one
   * megabridge did not write), else an HF folder (plain or blockwise FP8, read dequantized to bf16).
   */
  public static CheckpointSource open(Path directory, Optional<Path> hfConfig, AutoBridge autoBridge) {
    if (ShardsManifest.isPresent(directory) || TorchDistCheckpoint.isPresent(directory)) {
      return openMegatron(directory, hfConfig, autoBridge);
    }
    return openHf(directory, autoBridge, HfDtypes.Policy.strict());
  }

  /** The form of the Megatron folder {@code directory}: a shards folder has {@code megabridge.json}. */
  public static MegatronForm detect(Path directory) {
    if (ShardsManifest.isPresent(directory)) {
      return MegatronForm.SHARDS;
    }
    if (TorchDistCheckpoint.isPresent(directory)) {
      return MegatronForm.TORCH_DIST;
    }
    throw new CheckpointFormatException(directory + " is neither a megabridge shards folder (no "
        + ShardsManifest.FILE_NAME + ") nor a torch_dist checkpoint (no .metadata or latest_checkpointed_iteration.txt)");
  }

  /** A Megatron folder of either form; {@code hfConfig} is only used (and only needed) for torch_dist. */
  public static CheckpointSource openMegatron(Path directory, Optional<Path> hfConfig, AutoBridge autoBridge) {
    return switch (detect(directory)) {
      case SHARDS -> openShards(directory, autoBridge);
      case TORCH_DIST -> openTorchDist(directory, hfConfig, autoBridge);
    };
  }

  public static CheckpointSource openShards(Path directory, AutoBridge autoBridge) {
    MegatronCheckpoint checkpoint = MegatronCheckpoint.open(directory, autoBridge);
    try {
      ShardsManifest manifest = checkpoint.manifest();
      return new CheckpointSource(directory, new MapTensorSource(directory.toString(), checkpoint.hfTensors()),
          manifest.config(directory), manifest.hfTensors(), true, directory.resolve(ShardsManifest.HF_FILES_DIR),
          manifest.hfFiles(), checkpoint);
    } catch (RuntimeException e) {
      checkpoint.close();
      throw e;
    }
  }

  public static CheckpointSource openTorchDist(Path directory, Optional<Path> hfConfig, AutoBridge autoBridge) {
    return openTorchDist(directory, hfConfig, TorchDistCheckpoint.HfView.ofSource(), autoBridge);
  }

  /** A torch_dist checkpoint; {@code view} says how the HF view of one megabridge did not write is built. */
  public static CheckpointSource openTorchDist(Path directory, Optional<Path> hfConfig, TorchDistCheckpoint.HfView view,
      AutoBridge autoBridge) {
    TorchDistCheckpoint checkpoint = TorchDistCheckpoint.open(directory, hfConfig, view, autoBridge);
    // Nothing below can fail: the checkpoint resolved and checked everything when it opened.
    return new CheckpointSource(checkpoint.directory(),
        new MapTensorSource(checkpoint.directory().toString(), checkpoint.hfTensors()), checkpoint.config(), checkpoint.hfTensorInfos(), checkpoint.recordedFiles(), checkpoint.smallFilesDirectory(),
        checkpoint.smallFiles(), checkpoint);
  }

  /** {@code shards}, {@code torch_dist} or {@code hf}: the form this source was opened from. */
  public String form() {
    return switch (resource) {
      case MegatronCheckpoint _ -> "shards";
      case TorchDistCheckpoint _ -> "torch_dist";
      default -> "hf";
    };
  }

  /** The Megatron schema of a shards folder (recorded) or torch_dist checkpoint (told from its keys); empty for HF. */
  public Optional<Schema> schema() {
    return switch (resource) {
      case MegatronCheckpoint shards -> Optional.of(shards.manifest().options().schema());
      case TorchDistCheckpoint torchDist -> Optional.of(torchDist.schema());
      default -> Optional.empty();
    };
  }

  /**
   * This source with its routed experts in {@code layout} ({@link HfExpertLayout#relayout}: bytes moved, not
   * converted). The result takes over closing the resource; if relaying out fails, this source is closed.
   */
  public CheckpointSource withExperts(HfExpertLayout layout) {
    try {
      HfExpertLayout.View view = layout.relayout(infos, tensors::tensor);
      return new CheckpointSource(location, new MapTensorSource(location.toString(), view.tensors()), config,
          view.infos(), recordedFiles, smallFilesDirectory, smallFiles, resource);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** The folders this source reads: its location and, where they live elsewhere, its small files. */
  public List<Path> inputs() {
    return List.of(location, smallFilesDirectory);
  }

  /** Name → info, in source order. */
  public Map<String, HfTensorInfo> infoMap() {
    Map<String, HfTensorInfo> out = new LinkedHashMap<>();
    infos.forEach(info -> out.put(info.name(), info));
    return out;
  }

  @Override
  public void close() {
    try {
      resource.close();
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new InternalException("closing " + location + " failed: " + e, e);
    }
  }
}
