package dev.megabridge.runtime.ops;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Splits index ranges over a fixed number of threads. Each index is processed by exactly one task and the work
 * for an index never depends on the split, so results are bit-identical for any thread count.
 */
public final class Parallel implements AutoCloseable {

  /** Work on the indices {@code [start, end)}. */
  @FunctionalInterface
  public interface RangeTask {
    void run(int start, int end);
  }

  private final int threads;
  private final ExecutorService executor;

  public Parallel(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    this.threads = threads;
    this.executor = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, runnable -> {
      Thread thread = new Thread(runnable, "megabridge-runtime");
      thread.setDaemon(true);
      return thread;
    });
  }

  public int threads() {
    return threads;
  }

  /**
   * Runs {@code task} over {@code [0, count)} in at most {@code threads} contiguous chunks (the caller thread
   * takes the first), each at least {@code minChunk} long.
   */
  public void forRange(int count, int minChunk, RangeTask task) {
    int chunks = Math.min(threads, Math.max(1, count / Math.max(1, minChunk)));
    if (chunks <= 1 || executor == null) {
      task.run(0, count);
      return;
    }
    List<Future<?>> pending = new ArrayList<>(chunks - 1);
    for (int chunk = 1; chunk < chunks; chunk++) {
      int start = (int) ((long) count * chunk / chunks);
      int end = (int) ((long) count * (chunk + 1) / chunks);
      pending.add(executor.submit(() -> task.run(start, end)));
    }
    task.run(0, (int) ((long) count / chunks));
    for (Future<?> future : pending) {
      try {
        future.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof RuntimeException runtime) {
          throw runtime;
        }
        throw new IllegalStateException(e.getCause());
      }
    }
  }

  @Override
  public void close() {
    if (executor != null) {
      executor.shutdownNow();
    }
  }
}
