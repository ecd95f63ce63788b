package dev.megabridge.cli;

import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.report.TimedReport;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Megatron → Megatron: between megabridge shards folders and torch_dist checkpoints (either direction). */
@Command(name = "convert", mixinStandardHelpOptions = true,
    description = "Convert between the two Megatron forms: a megabridge shards folder and a torch_dist checkpoint "
        + "(what Megatron-LM --load reads and --save writes), either way, with any layout for shards.")
public final class ConvertCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "Megatron shards folder or torch_dist save/checkpoint folder.")
  Path source;

  @Parameters(index = "1", description = "Output folder.")
  Path output;

  @Option(names = "--format", required = true, converter = Choices.MegatronFormat.Converter.class,
      description = "Output form: shards or torch_dist.")
  Choices.MegatronFormat format;

  @Mixin
  HfConfigOption hfConfig;

  @Mixin
  CommonStateOption commonState;

  @Option(names = "--overwrite", description = "Replace an existing output.")
  boolean overwrite;

  @Mixin
  WriteThreadsOption threads;

  @Mixin
  CommonOptions common;

  @Mixin
  LayoutOptions layout;

  @Override
  public Integer call() {
    Output.existingDirectory(source, "Megatron folder");
    CheckpointSource.MegatronForm form = CheckpointSource.detect(source);
    if (hfConfig.given() && form != CheckpointSource.MegatronForm.TORCH_DIST) {
      throw new UsageException("--hf-config applies to torch_dist sources only; " + source + " is a shards folder");
    }
    commonState.rejectUnless(format == Choices.MegatronFormat.TORCH_DIST, "a shards folder has no common state");
    AutoBridge autoBridge = AutoBridge.discover();
    long start = System.nanoTime();
    try (CheckpointSource hf = CheckpointSource.openMegatron(source, hfConfig.folder(), autoBridge)) {
      if (format == Choices.MegatronFormat.TORCH_DIST) {
        TorchDistImporter.Summary summary = TorchDistImporter.write(hf, output,
            new TorchDistImporter.Options(layout.layout(), layout.bridgeOptions(), overwrite,
                threads.distcpFiles(), commonState.forTorchDist()), autoBridge,
                ConsoleProgress.create(common));
        Output.print(common, new TimedReport("convert", "torch_dist", summary, (System.nanoTime() - start) / 1e9, ""));
      } else {
        Importer.ConvertSummary summary = Importer.convert(hf, output, new Importer.Options(layout.layout(),
            layout.bridgeOptions(), Optional.empty(), overwrite, threads.rankFiles()), autoBridge,
            ConsoleProgress.create(common));
        Output.print(common, new TimedReport("convert", "shards", summary, (System.nanoTime() - start) / 1e9, ""));
      }
    }
    return 0;
  }

}
