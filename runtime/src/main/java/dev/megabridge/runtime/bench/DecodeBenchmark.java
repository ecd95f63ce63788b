package dev.megabridge.runtime.bench;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.runtime.qwen35.GenerationResult;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.RuntimeOptions;
import dev.megabridge.runtime.qwen35.Sampling;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Decode throughput of a Qwen3.5-0.8B-shaped model with random bf16 weights (H 1024, 24 layers [3 GDN + 1 attn]×6,
 * 8/2 heads of 256, I 3584, GDN 16/16 heads of 128, vocab 248320, tied embeddings) against the memory-bandwidth
 * bound measured in the same run: bound = copy bandwidth ÷ weight bytes read per decoded token, with the copy
 * bandwidth counted STREAM-style (bytes read + bytes written per second) over {@code threads} threads.
 */
public final class DecodeBenchmark {

  /** What to run. {@code layers} may be reduced for quick checks (keeps the 3:1 GDN/attention pattern). */
  public record Options(int threads, int layers, int promptTokens, int decodeTokens, long copyBytes) {

    public static Options defaults() {
      return new Options(Runtime.getRuntime().availableProcessors(), 24, 16, 32, 1L << 30);
    }
  }

  /** Measured figures; {@code fractionOfBound} is decode tokens/s ÷ bound tokens/s. */
  public record Report(String kernels, int threads, long weightBytesPerToken, double copyBandwidthBytesPerSecond,
      double boundTokensPerSecond, double decodeTokensPerSecond, double prefillTokensPerSecond,
      double fractionOfBound) {

    public String describe() {
      return String.format(
          "kernels %s, %d threads%nweights read per decoded token: %.1f MiB%ncopy bandwidth (read+write): %.2f GB/s%n"
              + "bound: %.2f tokens/s%ndecode: %.2f tokens/s (%.0f %% of bound)%nprefill: %.2f tokens/s",
          kernels, threads, weightBytesPerToken / 1048576.0, copyBandwidthBytesPerSecond / 1e9, boundTokensPerSecond,
          decodeTokensPerSecond, 100 * fractionOfBound, prefillTokensPerSecond);
    }
  }

  private DecodeBenchmark() {}

  static String configJson(int layers) {
    return """
        {"architectures": ["Qwen3_5ForCausalLM"], "model_type": "qwen3_5_text", "vocab_size": 248320,
         "hidden_size": 1024, "intermediate_size": 3584, "num_hidden_layers": %d, "num_attention_heads": 8,
         "num_key_value_heads": 2, "head_dim": 256, "linear_num_key_heads": 16, "linear_num_value_heads": 16,
         "linear_key_head_dim": 128, "linear_value_head_dim": 128, "linear_conv_kernel_dim": 4,
         "full_attention_interval": 4, "tie_word_embeddings": true, "rms_norm_eps": 1e-6,
         "rope_parameters": {"rope_type": "default", "rope_theta": 10000000, "partial_rotary_factor": 0.25,
                             "mrope_section": [11, 11, 10], "mrope_interleaved": true}}
        """.formatted(layers);
  }

  public static Report run(Options options) throws Exception {
    HfConfig hfConfig = HfConfig.parse(Path.of("synthetic-qwen3.5-0.8b/config.json"), configJson(options.layers()));
    Qwen35Config config = Qwen35Config.parse(hfConfig, Qwen35Config.DENSE_TEXT);
    SyntheticWeights weights = new SyntheticWeights(config.text(), config.tieWordEmbeddings());
    RuntimeOptions runtime = RuntimeOptions.defaults().withThreads(options.threads());
    try (Qwen35Model model = Qwen35Model.create(config, weights, runtime, weights)) {
      long[] prompt = new long[options.promptTokens()];
      for (int i = 0; i < prompt.length; i++) {
        prompt[i] = 1000 + 37L * i;
      }
      // Warm-up (JIT), then the measured run.
      model.generate(prompt, Optional.empty(), 4, Sampling.greedy());
      GenerationResult result = model.generate(prompt, Optional.empty(), options.decodeTokens(), Sampling.greedy());
      double bandwidth = copyBandwidth(options.copyBytes(), options.threads());
      long bytesPerToken = model.decodeWeightBytesPerToken();
      double bound = bandwidth / bytesPerToken;
      double decode = result.decodeTokensPerSecond();
      return new Report(runtime.kernels().name(), options.threads(), bytesPerToken, bandwidth, bound, decode,
          result.prefillTokensPerSecond(), decode / bound);
    }
  }

  /** Best of five parallel copies of {@code bytes} between two off-heap buffers: (read + write bytes) / second. */
  static double copyBandwidth(long bytes, int threads) throws Exception {
    try (Arena arena = Arena.ofShared()) {
      MemorySegment source = arena.allocate(bytes, 4096);
      MemorySegment target = arena.allocate(bytes, 4096);
      source.fill((byte) 1);
      target.fill((byte) 2);
      ExecutorService executor = Executors.newFixedThreadPool(threads);
      try {
        long best = Long.MAX_VALUE;
        for (int repeat = 0; repeat < 5; repeat++) {
          long start = System.nanoTime();
          Future<?>[] parts = new Future<?>[threads];
          for (int thread = 0; thread < threads; thread++) {
            long from = bytes * thread / threads;
            long to = bytes * (thread + 1) / threads;
            parts[thread] = executor.submit(() -> MemorySegment.copy(source, from, target, from, to - from));
          }
          for (Future<?> part : parts) {
            part.get();
          }
          best = Math.min(best, System.nanoTime() - start);
        }
        return 2.0 * bytes * 1e9 / best;
      } finally {
        executor.shutdownNow();
      }
    }
  }

  /** {@code DecodeBenchmark [threads] [layers] [decodeTokens]}. */
  public static void main(String[] args) throws Exception {
    Options defaults = Options.defaults();
    Options options = new Options(
        args.length > 0 ? Integer.parseInt(args[0]) : defaults.threads(),
        args.length > 1 ? Integer.parseInt(args[1]) : defaults.layers(),
        defaults.promptTokens(),
        args.length > 2 ? Integer.parseInt(args[2]) : defaults.decodeTokens(),
        defaults.copyBytes());
    System.out.println(run(options).describe());
  }
}
