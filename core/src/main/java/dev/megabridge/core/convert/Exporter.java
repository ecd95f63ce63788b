package dev.megabridge.core.convert;

import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.tensor.DType;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Megatron shards folder → HF folder with the source's names, dtypes (or a requested one), expert layout,
 * file split (or a maximum shard size) and small files, optionally as blockwise FP8 ({@link HfFolderWriter}).
 */
public final class Exporter {

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

  /** @param schema the Megatron schema the shards were written in */
  public record Summary(String architecture, int tensors, int files, long bytesWritten, Path output, String schema)
      implements Report {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "exported %s (shards, %s schema) → %s: %d tensors in %d file(s), %s",
          architecture, schema, output, tensors, files, ByteSizes.format(bytesWritten));
    }
  }

  private Exporter() {}

  public static Summary run(Path megatronDirectory, Path output, Options options, AutoBridge autoBridge,
      Progress progress) {
    try (MegatronCheckpoint checkpoint = MegatronCheckpoint.open(megatronDirectory, autoBridge)) {
      HfFolderWriter.Prepared prepared = HfFolderWriter.prepare(checkpoint.model(), checkpoint.hfTensors(),
          options.writer());
      long bytes = prepared.byteSize();
      progress.start("export", bytes);
      Map<String, String> written;
      try (OutputDirectory out = OutputDirectory.create(output, options.overwrite(), List.of(megatronDirectory))) {
        written = HfFolderWriter.writeTensors(out.path(), prepared, checkpoint.manifest().hfTensorMap(),
            options.maxShardBytes(), options.writer(), progress);
        HfFolderWriter.writeSmallFiles(out.path(), megatronDirectory.resolve(ShardsManifest.HF_FILES_DIR),
            checkpoint.manifest().hfFiles(), options.writer(), prepared);
        out.commit();
      } finally {
        progress.finish();
      }
      return new Summary(checkpoint.model().architecture(), prepared.tensors().size(),
          (int) written.values().stream().distinct().count(), bytes, output.toAbsolutePath().normalize(),
          checkpoint.manifest().options().schema().id());
    }
  }
}
