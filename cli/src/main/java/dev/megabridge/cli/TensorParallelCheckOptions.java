package dev.megabridge.cli;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.quant.Fp8TensorParallelCheck;
import dev.megabridge.core.quant.TensorParallelReport;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.List;
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

  /** Checks {@code folder}: the verdict per size. */
  TensorParallelReport check(Path folder) {
    for (int size : sizes) {
      if (size < 1) {
        throw new UsageException("--check-tp sizes must be positive, got " + size);
      }
    }
    if (expertTensorParallel != null && expertTensorParallel < 1) {
      throw new UsageException("--expert-tp must be positive, got " + expertTensorParallel);
    }
    return TensorParallelReport.of(Fp8TensorParallelCheck.checkFolder(folder, AutoBridge.discover(), sizes,
        size -> expertTensorParallel == null ? size : expertTensorParallel, LISTED_BLOCKERS));
  }

  /** With {@code --strict}, a report (null when no check ran) with a size that does not load is a failure. */
  void enforce(TensorParallelReport report) {
    if (strict && report != null && !report.notLoading().isEmpty()) {
      throw new CheckpointFormatException("--strict: the FP8 folder does not load at TP "
          + report.notLoading().stream().map(String::valueOf).collect(Collectors.joining(", ")));
    }
  }
}
