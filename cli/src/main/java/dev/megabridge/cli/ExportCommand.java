package dev.megabridge.cli;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.HfDtypes;
import dev.megabridge.core.convert.HfExpertLayout;
import dev.megabridge.core.convert.ShardsManifest;
import dev.megabridge.core.convert.torchdist.TorchDistCheckpoint;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.quant.TensorParallelReport;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.report.TimedReport;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Megatron → HF. */
@Command(name = "export", mixinStandardHelpOptions = true,
    description = "Convert a Megatron folder (shards or torch_dist) back to HF safetensors (source names, dtypes, "
        + "expert layout), or an HF folder to another dtype or to blockwise FP8.")
public final class ExportCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "Megatron shards folder, torch_dist save/checkpoint folder, or an HF folder "
      + "(HF → HF: another dtype, or --quantize).")
  Path source;

  @Parameters(index = "1", description = "Output HF folder.")
  Path output;

  @Option(names = "--dtype", defaultValue = "source", converter = Choices.ExportDtype.Converter.class,
      description = "source (default): each tensor in the dtype the HF source has it in — recorded by import, or for "
          + "a torch_dist checkpoint megabridge did not write, the --hf-config folder's weights, else its config's "
          + "dtype with the float32-by-design tensors F32; keep: as the checkpoint stores it (differs from source only "
          + "for such a torch_dist checkpoint); bf16 or fp32.")
  Choices.ExportDtype dtype;

  @Option(names = "--experts", converter = Choices.HfExpertLayoutConverter.class,
      description = "HF expert layout written: packed (experts.gate_up_proj / experts.down_proj, what transformers >= 5 "
          + "loads) or per-expert (experts.<j>.gate_proj.weight ...), main decoder and MTP alike; default: the "
          + "source's (recorded by import, or for a torch_dist checkpoint megabridge did not write, the --hf-config "
          + "folder's weights, else per-expert).")
  HfExpertLayout experts;

  @Option(names = "--max-shard-size", description = "Re-shard by size, e.g. 5GB (default: the source's files).")
  String maxShardSize;

  @Option(names = "--overwrite", description = "Replace an existing output.")
  boolean overwrite;

  @Mixin
  HfConfigOption hfConfig;

  @Mixin
  QuantizeOptions quantize;

  @Mixin
  WriteThreadsOption threads;

  @Mixin
  TensorParallelCheckOptions tpCheck;

  @Mixin
  CommonOptions common;

  @Override
  public Integer call() {
    Output.existingDirectory(source, "source folder");
    if (tpCheck.requested() && quantize.blocks().isEmpty()) {
      throw new UsageException("--check-tp checks an FP8 export: add --quantize fp8-block");
    }
    AutoBridge autoBridge = AutoBridge.discover();
    if (TorchDistCheckpoint.isPresent(source) && !ShardsManifest.isPresent(source)) {
      TorchDistCheckpoint.HfView view = new TorchDistCheckpoint.HfView(dtype == Choices.ExportDtype.KEEP);
      return exportSource("torch_dist", () -> CheckpointSource.openTorchDist(source, hfConfig.folder(), view,
          autoBridge), autoBridge);
    }
    if (hfConfig.given()) {
      throw new UsageException("--hf-config applies to torch_dist checkpoints only; " + source + " is not one");
    }
    if (!ShardsManifest.isPresent(source)) {
      if (!Files.isRegularFile(source.resolve(HfConfig.FILE_NAME))) {
        CheckpointSource.detect(source);
      }
      // An HF folder: HF → HF, to change its dtype or quantize it (an FP8 folder is read dequantized).
      return exportSource("hf", () -> CheckpointSource.openHf(source, autoBridge, HfDtypes.Policy.strict()),
          autoBridge);
    }
    return exportSource("shards", () -> CheckpointSource.openShards(source, autoBridge), autoBridge);
  }

  /** Export of the source {@code opener} opens, in the expert layout asked for. */
  private Integer exportSource(String form, Supplier<CheckpointSource> opener, AutoBridge autoBridge) {
    long start = System.nanoTime();
    Exporter.Summary summary;
    try (CheckpointSource checkpoint = experts == null ? opener.get() : opener.get().withExperts(experts)) {
      summary = Exporter.write(checkpoint, output, new Exporter.Options(dtype.dtype,
          Optional.ofNullable(maxShardSize).map(size -> Output.parseSize(size, "--max-shard-size")), overwrite,
          quantize.blocks(), threads.hfFiles()), autoBridge, ConsoleProgress.create(common));
    }
    return finish(form, summary, (System.nanoTime() - start) / 1e9);
  }

  /** The report, then (with --check-tp) the TP check of what was written, in one JSON object with --json. */
  private Integer finish(String form, Report summary, double seconds) {
    String note = quantize.blocks().map(blocks -> " (blockwise FP8, " + blocks + ")").orElse("");
    TimedReport report = new TimedReport("export", form, summary, seconds, note);
    if (!common.json) {
      Output.print(common, report);
    }
    TensorParallelReport tpReport = tpCheck.requested() ? tpCheck.check(output) : null;
    if (common.json) {
      Output.print(common, report.withExtra(new Checks(quantize.blocks().map(Object::toString).orElse(null),
          tpReport)));
    } else if (tpReport != null) {
      Output.print(common, tpReport);
    }
    tpCheck.enforce(tpReport);
    return 0;
  }

  /** The JSON report's keys after {@code seconds}: the FP8 block size, the TP check (each null when not asked). */
  record Checks(String quantize, TensorParallelReport tpCheck) {}
}
