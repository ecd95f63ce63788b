package dev.megabridge.cli;

import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.report.TimedReport;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** HF → Megatron. */
@Command(name = "import", mixinStandardHelpOptions = true,
    description = "Convert an HF checkpoint into Megatron per-rank shards (one safetensors file per rank).")
public final class ImportCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder.")
  Path source;

  @Parameters(index = "1", description = "Output folder.")
  Path output;

  @Option(names = "--format", defaultValue = "shards", converter = Choices.MegatronFormat.Converter.class,
      description = "shards (default) or torch_dist (Megatron --load folder; layout flags are validated, chunks are TP=1).")
  Choices.MegatronFormat format;

  @Option(names = "--ranks", description = "Write only these ranks (indices in inspect's rank order), e.g. 0-3,8.")
  String ranks;

  @Option(names = "--overwrite", description = "Replace an existing output.")
  boolean overwrite;

  @Mixin
  WriteThreadsOption threads;

  @Mixin
  MixedDtypesOption dtypes;

  @Mixin
  CommonStateOption commonState;

  @Mixin
  CommonOptions common;

  @Mixin
  LayoutOptions layout;

  @Override
  public Integer call() {
    Output.existingDirectory(source, "HF folder");
    commonState.rejectUnless(format == Choices.MegatronFormat.TORCH_DIST, "a shards folder has no common state");
    if (format == Choices.MegatronFormat.TORCH_DIST) {
      return importTorchDist();
    }
    long start = System.nanoTime();
    Importer.Summary summary = Importer.run(source, output, new Importer.Options(layout.layout(), layout.bridgeOptions(),
        parseRanks(ranks), overwrite, threads.rankFiles(), dtypes.policy()),
        AutoBridge.discover(), ConsoleProgress.create(common));
    double seconds = (System.nanoTime() - start) / 1e9;
    Output.print(common, new TimedReport("import", null, summary, seconds, ""));
    return 0;
  }

  private Integer importTorchDist() {
    if (ranks != null) {
      throw new UsageException("--ranks applies to --format shards only (torch_dist is written by one process)");
    }
    long start = System.nanoTime();
    TorchDistImporter.Summary summary;
    AutoBridge autoBridge = AutoBridge.discover();
    try (CheckpointSource hf = CheckpointSource.openHf(source, autoBridge, dtypes.policy())) {
      summary = TorchDistImporter.write(hf, output, new TorchDistImporter.Options(layout.layout(),
          layout.bridgeOptions(), overwrite, threads.distcpFiles(), commonState.forTorchDist()), autoBridge,
          ConsoleProgress.create(common));
    }
    Output.print(common, new TimedReport("import", "torch_dist", summary, (System.nanoTime() - start) / 1e9, ""));
    return 0;
  }

  static Optional<Set<Integer>> parseRanks(String text) {
    if (text == null) {
      return Optional.empty();
    }
    Set<Integer> out = new LinkedHashSet<>();
    try {
      for (String part : text.split(",")) {
        String trimmed = part.trim();
        int dash = trimmed.indexOf('-');
        if (dash > 0) {
          int from = Integer.parseInt(trimmed.substring(0, dash));
          int to = Integer.parseInt(trimmed.substring(dash + 1));
          if (to < from) {
            throw new UsageException("--ranks: empty range '" + trimmed + "'");
          }
          for (int rank = from; rank <= to; rank++) {
            out.add(rank);
          }
        } else {
          out.add(Integer.parseInt(trimmed));
        }
      }
    } catch (NumberFormatException e) {
      throw new UsageException("--ranks: cannot parse '" + text + "' (expected e.g. 0-3,8)");
    }
    return Optional.of(out);
  }
}
