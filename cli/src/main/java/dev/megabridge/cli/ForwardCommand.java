package dev.megabridge.cli;

import dev.megabridge.core.convert.ShardsManifest;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.runtime.qwen35.ForwardFiles;
import dev.megabridge.runtime.qwen35.ForwardResult;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
    RuntimeOptions options = threads.runtimeOptions();
    long start = System.nanoTime();
    ForwardResult result;
    int vocabulary;
    String origin;
    try (Qwen35Model loaded = Qwen35Model.load(model, hfConfig.folder(), options)) {
      vocabulary = loaded.vocabularySize();
      origin = loaded.origin();
      result = ForwardFiles.run(loaded, inputs, out, overwrite);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("command", "forward");
    report.put("model", model.toAbsolutePath().normalize().toString());
    report.put("source", origin);
    report.put("tokens", result.logits().rows());
    report.put("vocabulary", vocabulary);
    report.put("mtp_logits", result.mtpLogits().isPresent());
    report.put("output", out.toAbsolutePath().normalize().toString());
    report.put("seconds", seconds);
    if (common.json) {
      Output.json(report);
    } else {
      System.out.printf(Locale.ROOT, "forward (%s): %d tokens × %d logits%s → %s in %.2f s%n", report.get("source"),
          result.logits().rows(), vocabulary, result.mtpLogits().isPresent() ? " + MTP logits" : "", out, seconds);
    }
    return 0;
  }
}
