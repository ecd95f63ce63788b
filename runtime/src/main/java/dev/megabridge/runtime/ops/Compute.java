package dev.megabridge.runtime.ops;

/** The kernels and the thread pool one model computes with. */
public record Compute(KernelOps ops, Parallel parallel) implements AutoCloseable {

  /** The preferred kernels over {@code threads} threads. */
  public static Compute create(int threads) {
    return new Compute(Kernels.preferred(), new Parallel(threads));
  }

  @Override
  public void close() {
    parallel.close();
  }
}
