package dev.megabridge.cli;

import dev.megabridge.core.convert.WeightComparison;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.report.CommandReport;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.runtime.verify.LogprobVerification;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Whether two checkpoints of one model are the same model: log-prob parity of the reference forward, or weights. */
@Command(name = "verify", mixinStandardHelpOptions = true,
    description = "Compare two checkpoints of the same model in any form (HF folder, FP8 HF folder, shards folder, "
        + "torch_dist): the reference forward of both on prompts (max / mean |Δ log p(next token)|, greedy "
        + "agreement, MTP head), or with --weights tensor by tensor in the HF view. Exit 3 beyond tolerance.")
public final class VerifyCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "First checkpoint (e.g. the trainer's).")
  Path left;

  @Parameters(index = "1", description = "Second checkpoint (e.g. what the rollout engine loads).")
  Path right;

  @Option(names = "--prompts", description = "JSONL: {\"input_ids\": [...]} or {\"text\": \"...\", \"images\": "
      + "[\"a.png\"]} per line (paths relative to the file). Default: a text and an image prompt from the config.")
  Path prompts;

  @Option(names = "--tolerance", defaultValue = "1e-3",
      description = "Largest accepted |Δ log p| (default ${DEFAULT-VALUE}).")
  double tolerance;

  @Option(names = "--weights", description = "Compare the weights in the HF view instead of running the model.")
  boolean weights;

  /** Used for both sides. */
  @Mixin
  HfConfigOption hfConfig;

  @Mixin
  ComputeThreadsOption threads;

  @Mixin
  CommonOptions common;

  @Override
  public Integer call() {
    Output.existingDirectory(left, "first checkpoint");
    Output.existingDirectory(right, "second checkpoint");
    Optional<Path> config = hfConfig.folder();
    if (!(tolerance >= 0)) {
      throw new UsageException("--tolerance must be >= 0, got " + tolerance);
    }
    if (weights && prompts != null) {
      throw new UsageException("--prompts applies to the forward comparison, not to --weights");
    }
    if (prompts != null && !Files.isRegularFile(prompts)) {
      throw new UsageException("--prompts " + prompts + " does not exist");
    }
    return weights ? compareWeights(config) : compareLogprobs(config);
  }

  private int compareWeights(Optional<Path> config) {
    WeightComparison report = WeightComparison.compare(left, right, config, threads.runtimeOptions().threads(),
        AutoBridge.discover(), ConsoleProgress.create(common));
    Output.print(common, new CommandReport("verify", report));
    report.requireIdentical();
    return 0;
  }

  private int compareLogprobs(Optional<Path> config) {
    LogprobVerification report = LogprobVerification.compare(left, right, config, Optional.ofNullable(prompts),
        tolerance, threads.runtimeOptions());
    Output.print(common, new CommandReport("verify", report));
    report.requireWithinTolerance();
    return 0;
  }
}
