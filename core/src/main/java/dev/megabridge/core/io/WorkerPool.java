package dev.megabridge.core.io;

import dev.megabridge.core.error.InternalException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/** Runs independent work items on a bounded pool; the first failure is rethrown as it was thrown. */
public final class WorkerPool {
  private WorkerPool() {}

  /**
   * Rank files an import writes at once unless the user says otherwise: at least eight, so that enough direct
   * writes are in flight to keep a (virtual) disk busy, and at least one per CPU (README, "Measured").
   */
  public static int defaultFileThreads() {
    return Math.max(8, Runtime.getRuntime().availableProcessors());
  }

  public static <T> void forEach(List<T> items, int threads, Consumer<T> work) {
    if (items.isEmpty()) {
      return;
    }
    int poolSize = Math.max(1, Math.min(threads, items.size()));
    if (poolSize == 1) {
      items.forEach(work);
      return;
    }
    ExecutorService pool = Executors.newFixedThreadPool(poolSize, runnable -> {
      Thread thread = new Thread(runnable, "megabridge-worker");
      thread.setDaemon(true);
      return thread;
    });
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (T item : items) {
        futures.add(pool.submit(() -> work.accept(item)));
      }
      for (Future<?> future : futures) {
        try {
          future.get();
        } catch (ExecutionException e) {
          futures.forEach(pending -> pending.cancel(true));
          if (e.getCause() instanceof RuntimeException runtime) {
            throw runtime;
          }
          if (e.getCause() instanceof Error error) {
            throw error;
          }
          throw new InternalException("worker failed: " + e.getCause(), e.getCause());
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InternalException("interrupted", e);
    } finally {
      pool.shutdownNow();
    }
  }
}
