package dev.megabridge.cli;

import dev.megabridge.core.convert.StreamExport;
import dev.megabridge.core.report.CommandReport;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Streams HF-named weights out of a Megatron folder in size-bounded buckets (RL weight sync). */
@Command(name = "stream-export", mixinStandardHelpOptions = true,
    description = "Yield (HF name, tensor) pairs in buckets of at most --bucket-size, gathering TP/EP shards on the "
        + "fly; each bucket is written as bucket-NNNNN.safetensors, listed in manifest.json. A tensor larger than "
        + "the bucket is split along axis 0 (packed experts: one piece per expert) into pieces NAME[begin:end], "
        + "recorded under split_tensors in manifest.json. With --quantize fp8-block the weights are blockwise FP8 as "
        + "export --quantize writes them, each with its scales (weight_scale_inv) in the same bucket.")
public final class StreamExportCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "Megatron shards folder.")
  Path source;

  @Option(names = "--bucket-size", defaultValue = "512MiB", description = "Maximum bucket size (default ${DEFAULT-VALUE}).")
  String bucketSize;

  @Parameters(index = "1", arity = "0..1", description = "Output folder for the buckets (or --out DIR).")
  Path outputArgument;

  @Option(names = "--out", description = "Output folder for the buckets (the same as the positional OUT).")
  Path outputOption;

  @Option(names = "--overwrite", description = "Replace an existing output.")
  boolean overwrite;

  @Mixin
  QuantizeOptions quantize;

  @Mixin
  CommonOptions common;

  @Override
  public Integer call() {
    Output.existingDirectory(source, "Megatron folder");
    Path output = Output.oneOutput(outputArgument, outputOption, "--out");
    long limit = Output.parseSize(bucketSize, "--bucket-size");
    Output.print(common, new CommandReport("stream-export", StreamExport.run(source, output, limit, quantize.blocks(),
        overwrite, AutoBridge.discover(), ConsoleProgress.create(common))));
    return 0;
  }
}
