package dev.megabridge.cli;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.quant.Fp8TensorParallelCheck;
import dev.megabridge.core.quant.Fp8TensorParallelCheck.Blocker;
import dev.megabridge.core.quant.Fp8TensorParallelCheck.Verdict;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import picocli.CommandLine.Option;

/**
 * {@code --check-tp 1,2,4,8 [--expert-tp N] [--strict]}: at which tensor-parallel sizes an inference engine can load
 * a blockwise FP8 folder (every TP slice of every quantized weight on block boundaries).
 */
public final class TensorParallelCheckOptions {
  private static final int LISTED_BLOCKERS = 5;

  @Option(names = "--check-tp", split = ",", description = "TP sizes to check an FP8 folder against, e.g. 1,2,4,8.")
  List<Integer> sizes;

  @Option(names = "--expert-tp", description = "Expert tensor-parallel size of the engine (default: the TP size).")
  Integer expertTensorParallel;

  @Option(names = "--strict", description = "With --check-tp: exit 3 unless every size loads.")
  boolean strict;

  boolean requested() {
    if (sizes == null && (expertTensorParallel != null || strict)) {
      throw new UsageException("--expert-tp and --strict apply to --check-tp only");
    }
    return sizes != null;
  }

  /** Checks {@code folder}, prints the verdicts (unless JSON) and returns them for the JSON report. */
  List<Map<String, Object>> check(Path folder, boolean json) {
    for (int size : sizes) {
      if (size < 1) {
        throw new UsageException("--check-tp sizes must be positive, got " + size);
      }
    }
    if (expertTensorParallel != null && expertTensorParallel < 1) {
      throw new UsageException("--expert-tp must be positive, got " + expertTensorParallel);
    }
    List<Verdict> verdicts = Fp8TensorParallelCheck.checkFolder(folder, AutoBridge.discover(), sizes,
        size -> expertTensorParallel == null ? size : expertTensorParallel, LISTED_BLOCKERS);
    List<Map<String, Object>> report = new ArrayList<>();
    for (Verdict verdict : verdicts) {
      report.add(Output.object("tp", verdict.tensorParallelSize(), "loads", verdict.loads(),
          "blocking_weights", verdict.blockerCount(), "first_blocking", verdict.blockers().stream()
              .map(blocker -> Output.object("name", blocker.name(), "shape", blocker.shape().toList(),
                  "axis", blocker.axis().name().toLowerCase(Locale.ROOT), "reason", blocker.reason()))
              .toList()));
      if (!json) {
        System.out.println(verdict.loads() ? "TP " + verdict.tensorParallelSize() + ": loads"
            : "TP " + verdict.tensorParallelSize() + ": does not load (" + verdict.blockerCount() + " weights cut "
                + "through blocks), e.g. " + verdict.blockers().stream().map(TensorParallelCheckOptions::describe)
                .collect(Collectors.joining("; ")));
      }
    }
    if (!json) {
      System.out.println("loads at TP " + verdicts.stream().filter(Verdict::loads)
          .map(verdict -> String.valueOf(verdict.tensorParallelSize())).collect(Collectors.joining(", ")));
    }
    return report;
  }

  /** With {@code --strict}, a report (null when no check ran) with a size that does not load is a failure. */
  void enforce(List<Map<String, Object>> report) {
    if (strict && report != null && report.stream().anyMatch(verdict -> !(Boolean) verdict.get("loads"))) {
      throw new CheckpointFormatException("--strict: the FP8 folder does not load at TP "
          + report.stream().filter(verdict -> !(Boolean) verdict.get("loads")).map(verdict -> verdict.get("tp")
              .toString()).collect(Collectors.joining(", ")));
    }
  }

  private static String describe(Blocker blocker) {
    return blocker.name() + " " + blocker.shape() + " (" + blocker.reason() + ")";
  }
}
