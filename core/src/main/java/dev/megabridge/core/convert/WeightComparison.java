package dev.megabridge.core.convert;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import dev.megabridge.core.convert.WeightDiff.Status;
import dev.megabridge.core.convert.WeightDiff.TensorDiff;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Two checkpoints of one model (any form) compared tensor by tensor in the HF view ({@code verify --weights}): the
 * count per {@link Status}, the bytes compared, the time, and every tensor that is not identical (largest first).
 */
@JsonPropertyOrder({"mode"})
public record WeightComparison(Path left, Path right, int tensors, long identical, long different, long onlyLeft,
    long onlyRight, long shapeMismatch, long bytesCompared, double seconds, List<TensorDiff> differences)
    implements Report {
  /** Differences listed in the text form; the JSON form lists them all. */
  static final int LISTED_DIFFERENCES = 20;

  public WeightComparison {
    differences = List.copyOf(differences);
  }

  /** Opens both checkpoints ({@code hfConfig} for either side's torch_dist without a sidecar) and compares them. */
  public static WeightComparison compare(Path left, Path right, Optional<Path> hfConfig, int threads,
      AutoBridge autoBridge, Progress progress) {
    long start = System.nanoTime();
    WeightDiff.Report report;
    try (CheckpointSource a = CheckpointSource.open(left, hfConfig, autoBridge);
        CheckpointSource b = CheckpointSource.open(right, hfConfig, autoBridge)) {
      progress.start("verify --weights", bytes(a) + bytes(b));
      try {
        report = WeightDiff.compare(a.tensors(), b.tensors(), threads, progress::advance);
      } finally {
        progress.finish();
      }
    }
    return new WeightComparison(left, right, report.tensors().size(), report.count(Status.IDENTICAL),
        report.count(Status.DIFFERENT), report.count(Status.ONLY_LEFT), report.count(Status.ONLY_RIGHT),
        report.count(Status.SHAPE_MISMATCH), report.bytesCompared(), (System.nanoTime() - start) / 1e9,
        report.tensors().stream().filter(diff -> diff.status() != Status.IDENTICAL).toList());
  }

  private static long bytes(CheckpointSource checkpoint) {
    return checkpoint.infos().stream().mapToLong(info -> info.shape().numel() * info.dtype().byteSize()).sum();
  }

  /** Which comparison {@code verify} ran: the weights (the other is the forward's log-probs). */
  @JsonProperty("mode")
  public String mode() {
    return "weights";
  }

  /** Fails unless every tensor is identical, naming how many differ and the largest difference. */
  public void requireIdentical() {
    if (!differences.isEmpty()) {
      throw new CheckpointFormatException(differences.size() + " tensor(s) differ between " + left + " and " + right
          + "; the largest: " + describe(differences.getFirst()));
    }
  }

  /** The counts, then the first {@value #LISTED_DIFFERENCES} differences, one per line. */
  @Override
  public String describe() {
    StringBuilder lines = new StringBuilder(String.format(Locale.ROOT, "%d tensors: %d identical, %d different, %d "
        + "only in %s, %d only in %s, %d of another shape (%s compared in %.2f s)", tensors, identical, different,
        onlyLeft, left, onlyRight, right, shapeMismatch, ByteSizes.format(bytesCompared), seconds));
    for (TensorDiff diff : differences.stream().limit(LISTED_DIFFERENCES).toList()) {
      lines.append("\n  ").append(describe(diff));
    }
    if (differences.size() > LISTED_DIFFERENCES) {
      lines.append("\n  ... and ").append(differences.size() - LISTED_DIFFERENCES).append(" more (--json lists all)");
    }
    return lines.toString();
  }

  static String describe(TensorDiff diff) {
    return switch (diff.status()) {
      case DIFFERENT -> String.format(Locale.ROOT, "%s: %d of %d elements differ, max |Δ| %.6g (%s vs %s)",
          diff.name(), diff.differing(), diff.elements(), diff.maxAbsDifference(), diff.left(), diff.right());
      case ONLY_LEFT -> diff.name() + ": only in the first (" + diff.left() + ")";
      case ONLY_RIGHT -> diff.name() + ": only in the second (" + diff.right() + ")";
      case SHAPE_MISMATCH -> diff.name() + ": " + diff.left() + " vs " + diff.right();
      case IDENTICAL -> diff.name() + ": identical";
    };
  }
}
