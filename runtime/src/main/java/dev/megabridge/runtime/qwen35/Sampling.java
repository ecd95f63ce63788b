package dev.megabridge.runtime.qwen35;

import java.util.Arrays;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Token selection: greedy (temperature 0; ties go to the lowest id, like torch.argmax) or sampling with
 * temperature and nucleus (top-p) filtering from a seeded generator. Generation stops after any of
 * {@code stopTokens}.
 */
public record Sampling(double temperature, double topP, long seed, Set<Long> stopTokens) {

  public Sampling {
    if (temperature < 0 || !(topP > 0 && topP <= 1)) {
      throw new IllegalArgumentException("temperature must be >= 0 and top-p in (0, 1]");
    }
    stopTokens = Set.copyOf(stopTokens);
  }

  public static Sampling greedy() {
    return new Sampling(0, 1, 0, Set.of());
  }

  public Sampling withStopTokens(Set<Long> tokens) {
    return new Sampling(temperature, topP, seed, tokens);
  }

  public boolean isGreedy() {
    return temperature == 0;
  }

  /** A stateful chooser for one generation. */
  Sampler sampler() {
    return new Sampler(this, new SplittableRandom(seed));
  }

  static int argmax(float[] logits, int offset, int length) {
    int best = 0;
    for (int i = 1; i < length; i++) {
      if (logits[offset + i] > logits[offset + best]) {
        best = i;
      }
    }
    return best;
  }

  record Sampler(Sampling sampling, SplittableRandom random) {

    int next(float[] logits) {
      if (sampling.isGreedy()) {
        return argmax(logits, 0, logits.length);
      }
      int vocabulary = logits.length;
      double max = Double.NEGATIVE_INFINITY;
      for (float logit : logits) {
        max = Math.max(max, logit);
      }
      double[] probabilities = new double[vocabulary];
      double sum = 0;
      for (int i = 0; i < vocabulary; i++) {
        probabilities[i] = Math.exp((logits[i] - max) / sampling.temperature());
        sum += probabilities[i];
      }
      Integer[] order = new Integer[vocabulary];
      for (int i = 0; i < vocabulary; i++) {
        order[i] = i;
        probabilities[i] /= sum;
      }
      Arrays.sort(order, (a, b) -> {
        int byProbability = Double.compare(probabilities[b], probabilities[a]);
        return byProbability != 0 ? byProbability : Integer.compare(a, b);
      });
      // Nucleus: the smallest prefix whose mass reaches top-p (at least one token).
      int kept = 0;
      double mass = 0;
      while (kept < vocabulary && (kept == 0 || mass < sampling.topP())) {
        mass += probabilities[order[kept++]];
      }
      double target = random.nextDouble() * mass;
      double cumulative = 0;
      for (int i = 0; i < kept; i++) {
        cumulative += probabilities[order[i]];
        if (target < cumulative) {
          return order[i];
        }
      }
      return order[kept - 1];
    }
  }
}
