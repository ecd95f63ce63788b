package dev.megabridge.runtime.qwen35;

import dev.megabridge.runtime.ops.KernelOps;
import dev.megabridge.runtime.ops.Kernels;

/** How a model computes: thread count and kernel implementation. */
public record RuntimeOptions(int threads, KernelOps kernels) {

  public static RuntimeOptions defaults() {
    return new RuntimeOptions(Runtime.getRuntime().availableProcessors(), Kernels.preferred());
  }

  public RuntimeOptions withThreads(int count) {
    return new RuntimeOptions(count, kernels);
  }

  public RuntimeOptions withKernels(KernelOps ops) {
    return new RuntimeOptions(threads, ops);
  }
}
