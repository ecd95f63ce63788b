package dev.megabridge.cli;

import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.WeightDiff.Status;
import dev.megabridge.core.convert.WeightDiff.TensorDiff;
import dev.megabridge.core.convert.WeightDiff;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.runtime.qwen35.ImagePreprocessor;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.RuntimeOptions;
import dev.megabridge.runtime.verify.LogprobParity.HeadComparison;
import dev.megabridge.runtime.verify.LogprobParity.Prompt;
import dev.megabridge.runtime.verify.LogprobParity.PromptComparison;
import dev.megabridge.runtime.verify.LogprobParity;
import dev.megabridge.runtime.verify.VerifyPrompts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
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
  private static final int LISTED_DIFFERENCES = 20;

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
    long start = System.nanoTime();
    AutoBridge autoBridge = AutoBridge.discover();
    WeightDiff.Report report;
    try (CheckpointSource a = CheckpointSource.open(left, config, autoBridge); CheckpointSource b = CheckpointSource.open(right, config, autoBridge)) {
      long total = a.infos().stream().mapToLong(info -> info.shape().numel() * info.dtype().byteSize()).sum()
          + b.infos().stream().mapToLong(info -> info.shape().numel() * info.dtype().byteSize()).sum();
      Progress progress = ConsoleProgress.create(common);
      progress.start("verify --weights", total);
      try {
        report = WeightDiff.compare(a.tensors(), b.tensors(), threads.runtimeOptions().threads(), progress::advance);
      } finally {
        progress.finish();
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    List<TensorDiff> differences = report.tensors().stream().filter(diff -> diff.status() != Status.IDENTICAL).toList();
    if (common.json) {
      Output.json(Output.object("command", "verify", "mode", "weights", "left", left.toAbsolutePath().normalize(),
          "right", right.toAbsolutePath().normalize(), "tensors", report.tensors().size(),
          "identical", report.count(Status.IDENTICAL), "different", report.count(Status.DIFFERENT),
          "only_left", report.count(Status.ONLY_LEFT), "only_right", report.count(Status.ONLY_RIGHT),
          "shape_mismatch", report.count(Status.SHAPE_MISMATCH), "bytes_compared", report.bytesCompared(),
          "seconds", seconds, "differences", differences));
    } else {
      System.out.printf(Locale.ROOT, "%d tensors: %d identical, %d different, %d only in %s, %d only in %s, %d of "
          + "another shape (%s compared in %.2f s)%n", report.tensors().size(), report.count(Status.IDENTICAL),
          report.count(Status.DIFFERENT), report.count(Status.ONLY_LEFT), left, report.count(Status.ONLY_RIGHT), right,
          report.count(Status.SHAPE_MISMATCH), ByteSizes.format(report.bytesCompared()), seconds);
      for (TensorDiff diff : differences.stream().limit(LISTED_DIFFERENCES).toList()) {
        System.out.println("  " + describe(diff));
      }
      if (differences.size() > LISTED_DIFFERENCES) {
        System.out.println("  ... and " + (differences.size() - LISTED_DIFFERENCES) + " more (--json lists all)");
      }
    }
    if (!differences.isEmpty()) {
      throw new CheckpointFormatException(differences.size() + " tensor(s) differ between " + left + " and " + right
          + "; the largest: " + describe(differences.getFirst()));
    }
    return 0;
  }

  private static String describe(TensorDiff diff) {
    return switch (diff.status()) {
      case DIFFERENT -> String.format(Locale.ROOT, "%s: %d of %d elements differ, max |Δ| %.6g (%s vs %s)",
          diff.name(), diff.differing(), diff.elements(), diff.maxAbsDifference(), diff.left(), diff.right());
      case ONLY_LEFT -> diff.name() + ": only in the first (" + diff.left() + ")";
      case ONLY_RIGHT -> diff.name() + ": only in the second (" + diff.right() + ")";
      case SHAPE_MISMATCH -> diff.name() + ": " + diff.left() + " vs " + diff.right();
      case IDENTICAL -> diff.name() + ": identical";
    };
  }

  private int compareLogprobs(Optional<Path> config) {
    long start = System.nanoTime();
    RuntimeOptions options = threads.runtimeOptions();
    LogprobParity.Report report;
    try (Qwen35Model a = Qwen35Model.load(left, config, options);
        Qwen35Model b = Qwen35Model.load(right, config, options)) {
      if (a.vocabularySize() != b.vocabularySize()) {
        throw new CheckpointFormatException(left + " has a vocabulary of " + a.vocabularySize() + ", " + right
            + " of " + b.vocabularySize() + ": not checkpoints of the same model");
      }
      Path smallFiles = Qwen35Model.smallFilesDirectory(left, config);
      ImagePreprocessor preprocessor = ImagePreprocessor.load(smallFiles);
      List<Prompt> selected = prompts == null ? VerifyPrompts.defaults(a.config(), preprocessor, a.vocabularySize())
          : VerifyPrompts.read(prompts, a.config(), preprocessor, smallFiles);
      report = LogprobParity.compare(a, b, selected, tolerance);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    if (common.json) {
      Output.json(Output.object("command", "verify", "mode", "logprobs", "left", left.toAbsolutePath().normalize(),
          "right", right.toAbsolutePath().normalize(), "tolerance", tolerance,
          "within_tolerance", report.withinTolerance(), "max_abs_logprob_diff", report.maxAbsDifference(),
          "mean_abs_logprob_diff", report.meanAbsDifference(), "worst", report.worst(), "seconds", seconds,
          "prompts", report.prompts().stream().map(prompt -> Output.object("label", prompt.label(), "tokens",
              prompt.tokens(), "main", prompt.main(), "mtp", prompt.mtp().orElse(null))).toList()));
    } else {
      for (PromptComparison prompt : report.prompts()) {
        System.out.printf(Locale.ROOT, "%s (%d tokens): %s%s%n", prompt.label(), prompt.tokens(),
            head("main", prompt.main()), prompt.mtp().map(mtp -> "; " + head("mtp", mtp)).orElse(""));
      }
      System.out.printf(Locale.ROOT, "max |Δ log p| %.3g, mean %.3g (tolerance %.3g) in %.2f s: %s%n",
          report.maxAbsDifference(), report.meanAbsDifference(), tolerance, seconds,
          report.withinTolerance() ? "the two checkpoints agree" : "they differ");
    }
    if (!report.withinTolerance()) {
      throw new CheckpointFormatException(String.format(Locale.ROOT, "|Δ log p| %.6g beyond tolerance %.3g at "
          + "prompt %s, %s head, position %d", report.worst().absDifference(), tolerance, report.worst().prompt(),
          report.worst().head(), report.worst().position()));
    }
    return 0;
  }

  private static String head(String name, HeadComparison head) {
    return String.format(Locale.ROOT, "%s max |Δ log p| %.3g mean %.3g, greedy agreement %d/%d", name,
        head.maxAbsDifference(), head.meanAbsDifference(), head.greedyAgreements(), head.greedyPositions());
  }
}
