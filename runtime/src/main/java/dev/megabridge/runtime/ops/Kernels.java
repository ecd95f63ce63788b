package dev.megabridge.runtime.ops;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the kernel implementation once (Lucene's vectorization-provider idiom): the Vector API one when the
 * {@code jdk.incubator.vector} module is readable, else the scalar one with a single actionable warning. The system
 * property {@code megabridge.ops=scalar} forces the scalar kernels.
 */
public final class Kernels {

  private static final Logger LOG = LoggerFactory.getLogger(Kernels.class);

  private Kernels() {}

  public static KernelOps preferred() {
    return Holder.PREFERRED;
  }

  public static KernelOps scalar() {
    return new ScalarKernelOps();
  }

  /** Whether the Vector API kernels can be used in this JVM. */
  public static boolean vectorAvailable() {
    return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
  }

  private static final class Holder {
    static final KernelOps PREFERRED = choose();

    private static KernelOps choose() {
      if ("scalar".equals(System.getProperty("megabridge.ops"))) {
        return new ScalarKernelOps();
      }
      if (!vectorAvailable()) {
        LOG.warn("jdk.incubator.vector is not available: using scalar kernels (about 10x slower). "
            + "Pass --add-modules jdk.incubator.vector to the JVM to enable the Vector API kernels.");
        return new ScalarKernelOps();
      }
      try {
        return (KernelOps) Class.forName("dev.megabridge.runtime.ops.VectorKernelOps")
            .getDeclaredConstructor().newInstance();
      } catch (ReflectiveOperationException | LinkageError e) {
        LOG.warn("Vector API kernels failed to load ({}): using scalar kernels", e.toString());
        return new ScalarKernelOps();
      }
    }
  }
}
