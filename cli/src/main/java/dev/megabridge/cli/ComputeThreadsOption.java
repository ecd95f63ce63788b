package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.runtime.qwen35.RuntimeOptions;
import picocli.CommandLine.Option;

/** {@code --threads} of the commands that run the reference model: how many threads compute. */
public final class ComputeThreadsOption {
  @Option(names = "--threads", description = "Compute threads (default: CPU count).")
  Integer threads;

  RuntimeOptions runtimeOptions() {
    if (threads != null && threads < 1) {
      throw new UsageException("--threads must be positive, got " + threads);
    }
    return threads == null ? RuntimeOptions.defaults() : RuntimeOptions.defaults().withThreads(threads);
  }
}
