package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.WorkerPool;
import picocli.CommandLine.Option;

/** {@code --threads} of the commands that write a Megatron checkpoint: how many files are written at once. */
public final class WriteThreadsOption {
  @Option(names = "--threads",
      description = "Files written in parallel: ranks for shards (default 8 or the CPU count if more), .distcp files "
          + "for torch_dist, safetensors files of an HF export (default the CPU count).")
  Integer threads;

  /** Rank files written at once for {@code --format shards}. */
  int rankFiles() {
    return threads == null ? WorkerPool.defaultFileThreads() : positive();
  }

  /** {@code .distcp} files of a torch_dist checkpoint (also how many are written at once). */
  int distcpFiles() {
    return threads == null ? Runtime.getRuntime().availableProcessors() : positive();
  }

  /** safetensors files of an HF folder written at once. */
  int hfFiles() {
    return threads == null ? Runtime.getRuntime().availableProcessors() : positive();
  }

  private int positive() {
    if (threads < 1) {
      throw new UsageException("--threads must be positive, got " + threads);
    }
    return threads;
  }
}
