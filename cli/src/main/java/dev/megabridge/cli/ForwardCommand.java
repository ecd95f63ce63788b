package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.report.CommandReport;
import dev.megabridge.runtime.qwen35.ForwardFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** File-to-file forward pass of the reference runtime, from an HF folder or tensor-parallel from Megatron shards. */
@Command(name = "forward", mixinStandardHelpOptions = true,
    description = "Forward pass: input_ids (and an image) from a safetensors file → logits and MTP logits of every "
        + "position. MODEL is an HF folder (plain or blockwise FP8), a Megatron shards folder (computed "
        + "tensor-parallel from the rank shards) or a torch_dist checkpoint.")
public final class ForwardCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder, Megatron shards folder or torch_dist checkpoint.")
  Path model;

  @Option(names = "--inputs", required = true,
      description = "safetensors with input_ids I64 [L], optional pixel_values F32 [N, C·T·P·P] and image_grid_thw I64 [n, 3].")
  Path inputs;

  @Parameters(index = "1", arity = "0..1",
      description = "Output safetensors: logits F32 [L, V], mtp_logits F32 [L−1, V] (or --out FILE).")
  Path outArgument;

  @Option(names = "--out", description = "Output safetensors (the same as the positional OUT).")
  Path outOption;

  @Mixin
  HfConfigOption hfConfig;

  @Option(names = "--overwrite", description = "Replace an existing output.")
  boolean overwrite;

  @Mixin
  ComputeThreadsOption threads;

  @Mixin
  CommonOptions common;

  @Override
  public Integer call() {
    Output.existingDirectory(model, "model folder");
    Path out = Output.oneOutput(outArgument, outOption, "--out");
    if (!Files.isRegularFile(inputs)) {
      throw new UsageException("--inputs " + inputs + " is not a file");
    }
    OutputDirectory.requireApart(out.toAbsolutePath().normalize(), List.of(model, inputs));
    if (Files.exists(out) && !overwrite) {
      throw new UsageException(out + " already exists (pass --overwrite to replace it)");
    }
    Output.print(common, new CommandReport("forward", ForwardFiles.run(model, hfConfig.folder(), inputs, out,
        threads.runtimeOptions(), overwrite)));
    return 0;
  }
}
