package dev.megabridge.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-only multiply-add peak of this machine through the Vector API: every thread runs twelve independent
 * fused multiply-add chains on registers of the preferred width (enough chains to cover the FMA latency). Only
 * loaded where {@code jdk.incubator.vector} is readable.
 */
final class VectorFmaPeak {

  private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
  private static final int CHAINS = 12;
  private static final long ITERATIONS = 20_000_000L;

  private VectorFmaPeak() {}

  /** Best of three rounds of all threads at once, in GFLOP/s (an FMA counts 2 FLOPs per lane). */
  static double gflops(int threads) throws Exception {
    ExecutorService executor = Executors.newFixedThreadPool(threads);
    try {
      for (int warmUp = 0; warmUp < 50; warmUp++) {
        chains(ITERATIONS / 200); // JIT: compiled whole, not only on-stack replaced inside the interpreter's loop
      }
      double best = 0;
      for (int round = 0; round < 3; round++) {
        long start = System.nanoTime();
        List<Future<Float>> parts = new ArrayList<>();
        for (int thread = 0; thread < threads; thread++) {
          parts.add(executor.submit(() -> chains(ITERATIONS)));
        }
        float sink = 0;
        for (Future<Float> part : parts) {
          sink += part.get();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (Float.isNaN(sink)) {
          throw new IllegalStateException("FMA peak loop produced NaN");
        }
        best = Math.max(best, 2.0 * FLOATS.length() * CHAINS * ITERATIONS * threads / seconds / 1e9);
      }
      return best;
    } finally {
      executor.shutdownNow();
    }
  }

  /** {@code iterations} rounds of {@code CHAINS} independent FMAs; returns a lane so the work is not dead. */
  private static float chains(long iterations) {
    FloatVector a = FloatVector.broadcast(FLOATS, 0.999999f);
    FloatVector b = FloatVector.broadcast(FLOATS, 1e-7f);
    FloatVector c0 = FloatVector.broadcast(FLOATS, 0.1f);
    FloatVector c1 = c0.add(b);
    FloatVector c2 = c1.add(b);
    FloatVector c3 = c2.add(b);
    FloatVector c4 = c3.add(b);
    FloatVector c5 = c4.add(b);
    FloatVector c6 = c5.add(b);
    FloatVector c7 = c6.add(b);
    FloatVector c8 = c7.add(b);
    FloatVector c9 = c8.add(b);
    FloatVector c10 = c9.add(b);
    FloatVector c11 = c10.add(b);
    for (long i = 0; i < iterations; i++) {
      c0 = c0.fma(a, b);
      c1 = c1.fma(a, b);
      c2 = c2.fma(a, b);
      c3 = c3.fma(a, b);
      c4 = c4.fma(a, b);
      c5 = c5.fma(a, b);
      c6 = c6.fma(a, b);
      c7 = c7.fma(a, b);
      c8 = c8.fma(a, b);
      c9 = c9.fma(a, b);
      c10 = c10.fma(a, b);
      c11 = c11.fma(a, b);
    }
    FloatVector sum = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11);
    return sum.lane(0);
  }
}
