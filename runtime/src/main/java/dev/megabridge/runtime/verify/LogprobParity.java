package dev.megabridge.runtime.verify;

import dev.megabridge.runtime.ops.FloatMatrix;
import dev.megabridge.runtime.qwen35.ForwardResult;
import dev.megabridge.runtime.qwen35.ImageInput;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Whether two checkpoints of one model predict the same: the reference forward of both on the same prompts, and
 * per prompt the max and mean |Δ log p(next token)| over the prompt's positions (the mean is what RL trainers log
 * as the train/rollout log-prob gap), greedy next-token agreement, and the same for the MTP head, which predicts
 * the token after next.
 */
public final class LogprobParity {
  private LogprobParity() {}

  /** One prompt: token ids (image pads already expanded) and the image they refer to, if any. */
  public record Prompt(String label, long[] inputIds, Optional<ImageInput> image) {}

  /**
   * One head's comparison over one prompt.
   *
   * @param positions positions with a target token (L − 1 for the main head, L − 2 for MTP)
   * @param worstPosition the position of {@code maxAbsDifference} (its target is token {@code worstPosition + shift})
   * @param greedyAgreements positions (of all L, or L − 1 for MTP) where both models' argmax agree
   */
  public record HeadComparison(int positions, double maxAbsDifference, double meanAbsDifference, int worstPosition,
      int greedyAgreements, int greedyPositions) {}

  public record PromptComparison(String label, int tokens, HeadComparison main, Optional<HeadComparison> mtp) {}

  /** The worst difference over everything compared, and where it is. */
  public record Worst(String prompt, String head, int position, double absDifference) {}

  public record Report(List<PromptComparison> prompts, double maxAbsDifference, double meanAbsDifference,
      Worst worst, double tolerance, boolean withinTolerance) {
    public Report {
      prompts = List.copyOf(prompts);
    }
  }

  public static Report compare(Qwen35Model left, Qwen35Model right, List<Prompt> prompts, double tolerance) {
    List<PromptComparison> results = new ArrayList<>();
    double sum = 0;
    long count = 0;
    Worst worst = null;
    for (Prompt prompt : prompts) {
      ForwardResult a = left.forward(prompt.inputIds(), prompt.image());
      ForwardResult b = right.forward(prompt.inputIds(), prompt.image());
      HeadComparison main = compareHead(a.logits(), b.logits(), prompt.inputIds(), 1);
      Optional<HeadComparison> mtp = a.mtpLogits().isPresent() && b.mtpLogits().isPresent()
          ? Optional.of(compareHead(a.mtpLogits().get(), b.mtpLogits().get(), prompt.inputIds(), 2))
          : Optional.empty();
      results.add(new PromptComparison(prompt.label(), prompt.inputIds().length, main, mtp));
      for (HeadComparison head : mtp.isPresent() ? List.of(main, mtp.get()) : List.of(main)) {
        sum += head.meanAbsDifference() * head.positions();
        count += head.positions();
        if (worst == null || head.maxAbsDifference() > worst.absDifference()) {
          worst = new Worst(prompt.label(), head == main ? "main" : "mtp", head.worstPosition(),
              head.maxAbsDifference());
        }
      }
    }
    if (worst == null) {
      throw new IllegalArgumentException("no prompts to compare");
    }
    return new Report(results, worst.absDifference(), count == 0 ? 0 : sum / count, worst, tolerance,
        worst.absDifference() <= tolerance);
  }

  /**
   * Row {@code t} of {@code logits} predicts token {@code ids[t + shift]}; compares log-softmax values of those
   * targets (in double precision) and the argmax of every row that both matrices have.
   */
  static HeadComparison compareHead(FloatMatrix left, FloatMatrix right, long[] ids, int shift) {
    if (left.rows() != right.rows() || left.columns() != right.columns()) {
      throw new IllegalArgumentException("logits " + left.rows() + "x" + left.columns() + " vs " + right.rows() + "x"
          + right.columns());
    }
    int positions = Math.max(0, Math.min(left.rows(), ids.length - shift));
    double max = 0;
    double sum = 0;
    int worst = 0;
    for (int row = 0; row < positions; row++) {
      int target = Math.toIntExact(ids[row + shift]);
      double difference = Math.abs(logProbability(left, row, target) - logProbability(right, row, target));
      if (Double.isNaN(difference)) {
        difference = Double.POSITIVE_INFINITY;
      }
      sum += difference;
      if (difference > max) {
        max = difference;
        worst = row;
      }
    }
    int agreements = 0;
    for (int row = 0; row < left.rows(); row++) {
      agreements += argmax(left, row) == argmax(right, row) ? 1 : 0;
    }
    return new HeadComparison(positions, max, positions == 0 ? 0 : sum / positions, worst, agreements, left.rows());
  }

  /** {@code log softmax(row)[target]}, with the maximum subtracted before exponentiating. */
  static double logProbability(FloatMatrix logits, int row, int target) {
    if (target < 0 || target >= logits.columns()) {
      throw new IllegalArgumentException("token " + target + " outside the vocabulary of " + logits.columns());
    }
    int base = row * logits.columns();
    float[] data = logits.data();
    double max = Double.NEGATIVE_INFINITY;
    for (int column = 0; column < logits.columns(); column++) {
      max = Math.max(max, data[base + column]);
    }
    double total = 0;
    for (int column = 0; column < logits.columns(); column++) {
      total += Math.exp(data[base + column] - max);
    }
    return data[base + target] - max - Math.log(total);
  }

  static int argmax(FloatMatrix logits, int row) {
    int base = row * logits.columns();
    int best = 0;
    for (int column = 1; column < logits.columns(); column++) {
      if (logits.data()[base + column] > logits.data()[base + best]) {
        best = column;
      }
    }
    return best;
  }
}
