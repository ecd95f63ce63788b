package dev.megabridge.core.quant;

/**
 * Picks the FP8 kernel once (the vectorization-provider idiom): the Vector API one when the
 * {@code jdk.incubator.vector} module is readable, else the scalar one; {@code -Dmegabridge.ops=scalar} forces
 * the scalar kernel.
 */
final class Fp8Kernels {
  static final Fp8Kernel PREFERRED = choose();

  private Fp8Kernels() {}

  private static Fp8Kernel choose() {
    if ("scalar".equals(System.getProperty("megabridge.ops"))
        || ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
      return new ScalarFp8Kernel();
    }
    try {
      return (Fp8Kernel) Class.forName("dev.megabridge.core.quant.VectorFp8Kernel").getDeclaredConstructor()
          .newInstance();
    } catch (ReflectiveOperationException | LinkageError e) {
      return new ScalarFp8Kernel();
    }
  }
}
