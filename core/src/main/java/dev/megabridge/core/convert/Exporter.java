package dev.megabridge.core.convert;

import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Any checkpoint source → HF folder ({@code export}): the source's names, dtypes (or a requested one), expert layout,
 * file split (or a maximum shard size; a torch_dist checkpoint without a recorded split is split at
 * {@link #DEFAULT_MAX_SHARD_BYTES}) and small files, optionally as blockwise FP8 ({@link HfFolderWriter}). The output
 * appears atomically.
 */
public final class Exporter {

  /** HF's default shard size, used for a source that carries no recorded file split. */
  public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

  /**
   * @param dtype target dtype of floating tensors; empty keeps each tensor's dtype
   * @param maxShardBytes when present, re-shard by size instead of mirroring the source's files
   * @param quantize when present, the policy's weights are written as blockwise FP8 with this block size
   */
  public record Options(Optional<DType> dtype, Optional<Long> maxShardBytes, boolean overwrite,
      Optional<Fp8Blocks> quantize, int filesAtOnce) {

    public Options(Optional<DType> dtype, Optional<Long> maxShardBytes, boolean overwrite) {
      this(dtype, maxShardBytes, overwrite, Optional.empty());
    }

    public Options(Optional<DType> dtype, Optional<Long> maxShardBytes, boolean overwrite,
        Optional<Fp8Blocks> quantize) {
      this(dtype, maxShardBytes, overwrite, quantize, HfFolderWriter.FILES_AT_ONCE);
    }

    HfFolderWriter.Options writer() {
      return new HfFolderWriter.Options(dtype, quantize, filesAtOnce);
    }
  }

  /**
   * @param sourceForm {@code shards}, {@code torch_dist} or {@code hf}
   * @param sourceSchema the Megatron schema the source was written in; null for an HF source
   */
  public record Summary(String architecture, int tensors, int files, long bytesWritten, Path output,
      String sourceForm, String sourceSchema) implements Report {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "exported %s (%s) → %s: %d tensors in %d file(s), %s", architecture,
          sourceSchema == null ? sourceForm : sourceForm + ", " + sourceSchema + " schema", output, tensors, files,
          ByteSizes.format(bytesWritten));
    }
  }

  private Exporter() {}

  /** Exports the Megatron shards folder {@code megatronDirectory}. */
  public static Summary run(Path megatronDirectory, Path output, Options options, AutoBridge autoBridge,
      Progress progress) {
    try (CheckpointSource source = CheckpointSource.openShards(megatronDirectory, autoBridge)) {
      return write(source, output, options, autoBridge, progress);
    }
  }

  /** Writes the HF view of {@code source} as an HF folder. */
  public static Summary write(CheckpointSource source, Path output, Options options, AutoBridge autoBridge,
      Progress progress) {
    // The bridge says which tensors stay F32 under a requested dtype and which are quantized.
    BridgeModel model = autoBridge.fromConfig(source.config(),
        Optional.of(new LinkedHashSet<>(source.infoMap().keySet())), BridgeOptions.defaults());
    LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();
    for (HfTensorInfo info : source.infos()) {
      tensors.put(info.name(), source.tensors().tensor(info.name()));
    }
    HfFolderWriter.Prepared prepared = HfFolderWriter.prepare(model, tensors, options.writer());
    long bytes = prepared.byteSize();
    progress.start("export", bytes);
    Map<String, String> written;
    try (OutputDirectory out = OutputDirectory.create(output, options.overwrite(), source.inputs())) {
      Optional<Long> shardBytes = options.maxShardBytes().isPresent() || source.recordedFiles()
          ? options.maxShardBytes() : Optional.of(DEFAULT_MAX_SHARD_BYTES);
      written = HfFolderWriter.writeTensors(out.path(), prepared, source.infoMap(), shardBytes, options.writer(),
          progress);
      HfFolderWriter.writeSmallFiles(out.path(), source.smallFilesDirectory(), source.smallFiles(), options.writer(),
          prepared);
      out.commit();
    } finally {
      progress.finish();
    }
    return new Summary(source.config().architectures().stream().findFirst().orElse("?"), prepared.tensors().size(),
        (int) written.values().stream().distinct().count(), bytes, output.toAbsolutePath().normalize(),
        source.form(), source.schema().map(Schema::id).orElse(null));
  }
}
