package dev.megabridge.core.quant;

import com.fasterxml.jackson.annotation.JsonValue;
import dev.megabridge.core.quant.Fp8TensorParallelCheck.Verdict;
import dev.megabridge.core.report.Report;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What {@code --check-tp} found: per TP size whether an inference engine loads the FP8 folder, with the first
 * weights that stop it. As JSON a list of {@link SizeVerdict}s; as text one line per size, then the sizes that load.
 */
public record TensorParallelReport(@JsonValue List<SizeVerdict> verdicts) implements Report {

  /** One TP size: {@code loads} when no weight blocks it; {@code blockingWeights} counts them all. */
  public record SizeVerdict(int tp, boolean loads, int blockingWeights, List<BlockingWeight> firstBlocking) {}

  /** A weight whose TP slices cut through FP8 blocks along {@code axis} ({@code output} or {@code input}). */
  public record BlockingWeight(String name, List<Long> shape, String axis, String reason) {}

  public TensorParallelReport {
    verdicts = List.copyOf(verdicts);
  }

  public static TensorParallelReport of(List<Verdict> verdicts) {
    return new TensorParallelReport(verdicts.stream().map(verdict -> new SizeVerdict(verdict.tensorParallelSize(),
        verdict.loads(), verdict.blockerCount(), verdict.blockers().stream().map(blocker -> new BlockingWeight(
            blocker.name(), blocker.shape().toList(), blocker.axis().name().toLowerCase(Locale.ROOT),
            blocker.reason())).toList())).toList());
  }

  /** The TP sizes that do not load. */
  public List<Integer> notLoading() {
    return verdicts.stream().filter(verdict -> !verdict.loads()).map(SizeVerdict::tp).toList();
  }

  @Override
  public String describe() {
    StringBuilder lines = new StringBuilder();
    for (SizeVerdict verdict : verdicts) {
      lines.append(verdict.loads() ? "TP " + verdict.tp() + ": loads" : "TP " + verdict.tp() + ": does not load ("
          + verdict.blockingWeights() + " weights cut through blocks), e.g. " + verdict.firstBlocking().stream()
              .map(weight -> weight.name() + " " + weight.shape() + " (" + weight.reason() + ")")
              .collect(Collectors.joining("; "))).append('\n');
    }
    return lines.append("loads at TP ").append(verdicts.stream().filter(SizeVerdict::loads)
        .map(verdict -> String.valueOf(verdict.tp())).collect(Collectors.joining(", "))).toString();
  }
}
