package dev.megabridge.cli;

import dev.megabridge.bench.ConvertBench;
import dev.megabridge.bench.DecodeBenchmark;
import dev.megabridge.bench.SyntheticCheckpoint;
import dev.megabridge.bench.VerifyBenchmark;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.report.CommandReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Benchmarks measured as ratios against a baseline taken in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
    subcommands = {BenchCommand.Convert.class, BenchCommand.Decode.class, BenchCommand.Verify.class,
        BenchCommand.Synthetic.class})
public final class BenchCommand implements Runnable {

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "missing benchmark name");
  }

  /** {@code --config}, else the repository's copy of the real {@code model} config; it must hold config.json. */
  static Path realConfig(Path given, String model) {
    Path directory = given != null ? given
        : Path.of(System.getProperty("megabridge.home", "."), "fixtures", "qwen35-configs", model);
    if (!Files.isRegularFile(directory.resolve("config.json"))) {
      throw new UsageException("no config.json in " + directory);
    }
    return directory;
  }

  static final class CacheConverter extends Choices.Converter<ConvertBench.CacheState> {
    CacheConverter() {
      super(ConvertBench.CacheState.values(), state -> state.name().toLowerCase(Locale.ROOT));
    }
  }

  /** Conversion speed and memory vs cp -r. */
  @Command(name = "convert", mixinStandardHelpOptions = true,
      description = "Synthetic checkpoint with real Qwen3.5-35B-A3B widths (a few layers, full vision tower, MTP): "
          + "cp -r vs import (TP 2, EP 4) vs export, each timed with its peak RssAnon.")
  static final class Convert implements Callable<Integer> {
    @Option(names = "--config", description = "Folder with the real config.json (default: fixtures/qwen35-configs/Qwen3.5-35B-A3B).")
    Path config;

    // Default 4: one period of the real 3:1 Gated DeltaNet / gated attention pattern. Fewer layers make the parts
    // every EP rank's file repeats (vision tower, embedding, output layer, MTP) a larger share than in the real model.
    @Option(names = "--layers", defaultValue = "4", description = "Decoder layers (default ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--work", defaultValue = "/tmp/megabridge-bench", description = "Scratch folder (default ${DEFAULT-VALUE}).")
    Path work;

    @Option(names = "--rounds", defaultValue = "1", description = "Measurement rounds (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--cache", defaultValue = "cold", converter = CacheConverter.class,
        description = "Page cache before each timed step: cold (dropped; needs root) or warm (input read once). "
            + "Default ${DEFAULT-VALUE}.")
    ConvertBench.CacheState cache;

    @Option(names = "--keep", description = "Keep the checkpoints afterwards.")
    boolean keep;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
      Path configDirectory = realConfig(config, "Qwen3.5-35B-A3B");
      Path jar = Path.of(BenchCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      List<String> java = new ArrayList<>();
      java.add(ProcessHandle.current().info().command().orElse("java"));
      java.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g",
          "-XX:+UseParallelGC"));
      if (rounds < 1 || layers < 1) {
        throw new UsageException("--rounds and --layers must be positive");
      }
      List<ConvertBench.Result> results = ConvertBench.run(new ConvertBench.Options(configDirectory, work, layers,
          rounds, cache, java, jar, keep));
      Output.print(common, new ConvertBench.RoundsReport(ConvertBench.summary(results), results));
      return 0;
    }
  }

  /** The benchmarks' synthetic checkpoint as an HF folder of its own, to try commands and examples at real widths. */
  @Command(name = "synthetic", mixinStandardHelpOptions = true,
      description = "Write an HF folder with a real config's widths, a few decoder layers and random bf16 weights "
          + "(F32 A_log / linear_attn.norm.weight), as the conversion benchmark uses.")
  static final class Synthetic implements Callable<Integer> {
    @Parameters(index = "0", description = "Output folder.")
    Path output;

    @Option(names = "--config", description = "Folder with the real config.json (default: "
        + "fixtures/qwen35-configs/Qwen3.5-35B-A3B).")
    Path config;

    @Option(names = "--layers", defaultValue = "4", description = "Decoder layers (default ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed of the weights (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--overwrite", description = "Replace an existing output.")
    boolean overwrite;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
      if (layers < 1) {
        throw new UsageException("--layers must be positive");
      }
      Path configDirectory = realConfig(config, "Qwen3.5-35B-A3B");
      Output.print(common, new CommandReport("bench synthetic", SyntheticCheckpoint.writeFolder(configDirectory,
          layers, output, seed, overwrite)));
      return 0;
    }
  }

  /** Decode tokens/s of the reference runtime vs the memory-bandwidth bound measured in the same run. */
  @Command(name = "decode", mixinStandardHelpOptions = true,
      description = "Qwen3.5-0.8B-shaped model with random bf16 weights: decode tokens/s vs the bound "
          + "(copy bandwidth measured in the same run ÷ weight bytes read per token), with the bandwidth counted "
          + "as bytes copied/s and as read+write bytes/s; the target uses the stricter read+write bound.")
  static final class Decode implements Callable<Integer> {
    @Option(names = "--threads", description = "Compute threads (default: CPU count).")
    Integer threads;

    @Option(names = "--layers", defaultValue = "24", description = "Decoder layers, 3:1 GDN/attention (default ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--prompt-tokens", defaultValue = "16", description = "Prompt length (default ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--decode-tokens", defaultValue = "32", description = "Tokens decoded (default ${DEFAULT-VALUE}).")
    int decodeTokens;

    @Option(names = "--copy-size", defaultValue = "1GiB", description = "Bytes copied to measure bandwidth (default ${DEFAULT-VALUE}).")
    String copySize;

    @Option(names = "--repeats", defaultValue = "3", description = "Measured repeats, each a copy-bandwidth "
        + "measurement then a decode; the fraction of the bound is the median per-repeat ratio (default ${DEFAULT-VALUE}).")
    int repeats;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
      int threadCount = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
      if (threadCount < 1 || layers < 1 || promptTokens < 1 || decodeTokens < 2 || repeats < 1) {
        throw new UsageException(
            "--threads, --layers, --prompt-tokens, --repeats must be positive and --decode-tokens >= 2");
      }
      DecodeBenchmark.Report report = DecodeBenchmark.run(new DecodeBenchmark.Options(threadCount, layers,
          promptTokens, decodeTokens, Output.parseSize(copySize, "--copy-size"), repeats));
      Output.print(common, report);
      return 0;
    }
  }

  /** Time of verify's forwards on synthetic models with real widths, and GFLOP/s vs the matmul peak of this run. */
  @Command(name = "verify", mixinStandardHelpOptions = true,
      description = "Synthetic bf16 models with the real widths of Qwen3.5-0.8B (all 24 layers) and of the 9B config "
          + "(2 layers: one Gated DeltaNet, one full attention; full-vocabulary lm_head): seconds of verify's work "
          + "(forward of a prompt through two models, log-prob comparison), matmul GFLOP/s, and the ratio to the "
          + "matmul peak measured in the same run.")
  static final class Verify implements Callable<Integer> {
    @Option(names = "--threads", description = "Compute threads (default: CPU count).")
    Integer threads;

    @Option(names = "--prompt-tokens", defaultValue = "256", description = "Prompt length (default ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--repeats", defaultValue = "2", description = "Measured repeats per model (default ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--small-layers", defaultValue = "24",
        description = "Decoder layers of the 0.8B-shaped model, 0 to skip it (default ${DEFAULT-VALUE}).")
    int smallLayers;

    @Option(names = "--large-layers", defaultValue = "2",
        description = "Decoder layers of the 9B-shaped model, 0 to skip it (default ${DEFAULT-VALUE}).")
    int largeLayers;

    @Option(names = "--config", description = "Folder with the 9B config.json (default: fixtures/qwen35-configs/Qwen3.5-9B).")
    Path config;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
      int threadCount = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
      if (threadCount < 1 || promptTokens < 2 || repeats < 1 || smallLayers < 0 || largeLayers < 0) {
        throw new UsageException("--threads and --repeats must be positive, --prompt-tokens >= 2, layers >= 0");
      }
      Path configDirectory = largeLayers > 0 ? realConfig(config, "Qwen3.5-9B") : Path.of(".");
      VerifyBenchmark.Report report = VerifyBenchmark.run(new VerifyBenchmark.Options(threadCount, promptTokens,
          repeats, smallLayers, largeLayers, configDirectory));
      Output.print(common, report);
      return 0;
    }
  }
}
