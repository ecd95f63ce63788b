package dev.megabridge.runtime.qwen35;

/**
 * Generated token ids (without the prompt) and timings: prefill covers the prompt (and image) up to the first
 * sampled token's logits, decode the remaining steps.
 */
public record GenerationResult(long[] tokens, int promptTokens, long prefillNanos, long decodeNanos) {

  /** Decode throughput: tokens produced by decode steps per second (NaN with fewer than two tokens). */
  public double decodeTokensPerSecond() {
    int steps = tokens.length - 1;
    return steps <= 0 || decodeNanos == 0 ? Double.NaN : steps * 1e9 / decodeNanos;
  }

  public double prefillTokensPerSecond() {
    return prefillNanos == 0 ? Double.NaN : promptTokens * 1e9 / prefillNanos;
  }
}
