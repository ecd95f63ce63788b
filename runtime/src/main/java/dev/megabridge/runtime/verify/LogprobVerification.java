package dev.megabridge.runtime.verify;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.report.Report;
import dev.megabridge.runtime.qwen35.ImagePreprocessor;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.RuntimeOptions;
import dev.megabridge.runtime.verify.LogprobParity.HeadComparison;
import dev.megabridge.runtime.verify.LogprobParity.Prompt;
import dev.megabridge.runtime.verify.LogprobParity.Worst;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * {@code verify}'s forward comparison of two checkpoints of one model: the {@link LogprobParity} of both on the
 * prompts, the tolerance it was held to, and the time (loading both models included).
 */
@JsonPropertyOrder({"mode"})
public record LogprobVerification(Path left, Path right, double tolerance, boolean withinTolerance,
    double maxAbsLogprobDiff, double meanAbsLogprobDiff, Worst worst, double seconds, List<PromptResult> prompts)
    implements Report {

  /** One prompt's comparison: the main head, and the MTP head when both models have one (null: none). */
  public record PromptResult(String label, int tokens, HeadComparison main, HeadComparison mtp) {}

  public LogprobVerification {
    prompts = List.copyOf(prompts);
  }

  /**
   * Loads both checkpoints ({@code hfConfig} for a torch_dist checkpoint without a sidecar) and compares them on the
   * prompts of {@code promptsFile} (JSONL, see {@link VerifyPrompts#read}), else on the default text and image
   * prompts.
   */
  public static LogprobVerification compare(Path left, Path right, Optional<Path> hfConfig, Optional<Path> promptsFile,
      double tolerance, RuntimeOptions options) {
    long start = System.nanoTime();
    LogprobParity.Report report;
    try (Qwen35Model a = Qwen35Model.load(left, hfConfig, options);
        Qwen35Model b = Qwen35Model.load(right, hfConfig, options)) {
      if (a.vocabularySize() != b.vocabularySize()) {
        throw new CheckpointFormatException(left + " has a vocabulary of " + a.vocabularySize() + ", " + right
            + " of " + b.vocabularySize() + ": not checkpoints of the same model");
      }
      Path smallFiles = Qwen35Model.smallFilesDirectory(left, hfConfig);
      ImagePreprocessor preprocessor = ImagePreprocessor.load(smallFiles);
      List<Prompt> selected = promptsFile.isEmpty()
          ? VerifyPrompts.defaults(a.config(), preprocessor, a.vocabularySize())
          : VerifyPrompts.read(promptsFile.get(), a.config(), preprocessor, smallFiles);
      report = LogprobParity.compare(a, b, selected, tolerance);
    }
    return new LogprobVerification(left, right, tolerance, report.withinTolerance(), report.maxAbsDifference(),
        report.meanAbsDifference(), report.worst(), (System.nanoTime() - start) / 1e9, report.prompts().stream()
            .map(prompt -> new PromptResult(prompt.label(), prompt.tokens(), prompt.main(), prompt.mtp().orElse(null)))
            .toList());
  }

  /** Which comparison {@code verify} ran: the forward's log-probs (the other is the weights). */
  @JsonProperty("mode")
  public String mode() {
    return "logprobs";
  }

  /** Fails when the largest |Δ log p| is beyond the tolerance, naming where it is. */
  public void requireWithinTolerance() {
    if (!withinTolerance) {
      throw new CheckpointFormatException(String.format(Locale.ROOT, "|Δ log p| %.6g beyond tolerance %.3g at "
          + "prompt %s, %s head, position %d", worst.absDifference(), tolerance, worst.prompt(), worst.head(),
          worst.position()));
    }
  }

  /** One line per prompt (main and MTP head), then the maxima and the verdict. */
  @Override
  public String describe() {
    return prompts.stream().map(prompt -> String.format(Locale.ROOT, "%s (%d tokens): %s%s\n", prompt.label(),
        prompt.tokens(), head("main", prompt.main()), prompt.mtp() == null ? "" : "; " + head("mtp", prompt.mtp())))
        .collect(Collectors.joining()) + String.format(Locale.ROOT, "max |Δ log p| %.3g, mean %.3g (tolerance %.3g) "
        + "in %.2f s: %s", maxAbsLogprobDiff, meanAbsLogprobDiff, tolerance, seconds,
        withinTolerance ? "the two checkpoints agree" : "they differ");
  }

  private static String head(String name, HeadComparison head) {
    return String.format(Locale.ROOT, "%s max |Δ log p| %.3g mean %.3g, greedy agreement %d/%d", name,
        head.maxAbsDifference(), head.meanAbsDifference(), head.greedyAgreements(), head.greedyPositions());
  }
}
