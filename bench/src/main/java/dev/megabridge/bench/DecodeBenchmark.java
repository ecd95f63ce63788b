package dev.megabridge.bench;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.runtime.qwen35.GenerationResult;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.RuntimeOptions;
import dev.megabridge.runtime.qwen35.Sampling;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Decode throughput of a Qwen3.5-0.8B-shaped model with random bf16 weights (H 1024, 24 layers [3 GDN + 1 attn]×6,
 * 8/2 heads of 256, I 3584, GDN 16/16 heads of 128, vocab 248320, tied embeddings) against the memory-bandwidth
 * bound measured in the same run: bound = copy bandwidth ÷ weight bytes read per decoded token.
 *
 * <p>The copy bandwidth is reported two ways: bytes copied per second, and STREAM-style bytes read + written per
 * second (twice the former). {@code targetMet} uses the definition — the bandwidth of a large copy, in
 * bytes copied per second; the STREAM-style figure gives a bound twice as high and is reported beside it. The machine may be shared, so the run is repeated: every repeat measures the copy bandwidth
 * and then decodes, and the fraction of the bound is the median over repeats of decode ÷ the bound measured right
 * before it (drift in the available bandwidth then cancels instead of biasing the ratio).
 */
public final class DecodeBenchmark {

  /** Fraction of the read+write bound that decode must reach. */
  public static final double TARGET_FRACTION = 0.5;

  /** What to run. {@code layers} may be reduced for quick checks (keeps the 3:1 GDN/attention pattern). */
  public record Options(int threads, int layers, int promptTokens, int decodeTokens, long copyBytes, int repeats) {

    public static Options defaults() {
      return new Options(Runtime.getRuntime().availableProcessors(), 24, 16, 32, 1L << 30, 3);
    }
  }

  /**
   * Measured figures. Bandwidths are the best copy over all repeats, in bytes copied per second and in bytes read
   * + written per second; decode tokens/s are the min, median and max over repeats; the fractions are the medians
   * of the per-repeat ratios against each bound definition.
   */
  public record Report(String kernels, int threads, int repeats, long weightBytesPerToken,
      double copiedBytesPerSecond, double readWriteBytesPerSecond, double boundCopiedTokensPerSecond,
      double boundReadWriteTokensPerSecond, double decodeTokensPerSecondMin, double decodeTokensPerSecondMedian,
      double decodeTokensPerSecondMax, double prefillTokensPerSecondMedian, double fractionOfCopiedBound,
      double fractionOfReadWriteBound, boolean targetMet) implements dev.megabridge.core.report.Report {

    public String describe() {
      return String.format(
          "kernels %s, %d threads, %d repeats%nweights read per decoded token: %.1f MiB%n"
              + "copy bandwidth: %.2f GB/s copied = %.2f GB/s read+write (best repeat)%n"
              + "bound: %.2f tokens/s (copied) | %.2f tokens/s (read+write, stricter)%n"
              + "decode: %.2f tokens/s median (%.2f .. %.2f)%n"
              + "decode vs bound (median of per-repeat ratios): %.0f %% of copied | %.0f %% of read+write%n"
              + "target (decode >= %.0f %% of the bound, copy bandwidth in bytes copied/s): %s%nprefill: %.2f tokens/s median",
          kernels, threads, repeats, weightBytesPerToken / 1048576.0, copiedBytesPerSecond / 1e9,
          readWriteBytesPerSecond / 1e9, boundCopiedTokensPerSecond, boundReadWriteTokensPerSecond,
          decodeTokensPerSecondMedian, decodeTokensPerSecondMin, decodeTokensPerSecondMax,
          100 * fractionOfCopiedBound, 100 * fractionOfReadWriteBound, 100 * TARGET_FRACTION,
          targetMet ? "met" : "not met", prefillTokensPerSecondMedian);
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
    if (options.repeats() < 1) {
      throw new IllegalArgumentException("repeats must be >= 1, got " + options.repeats());
    }
    HfConfig hfConfig = HfConfig.parse(Path.of("synthetic-qwen3.5-0.8b/config.json"), configJson(options.layers()));
    Qwen35Config config = Qwen35Config.parse(hfConfig, Qwen35Config.DENSE_TEXT);
    SyntheticWeights weights = new SyntheticWeights(config);
    RuntimeOptions runtime = RuntimeOptions.defaults().withThreads(options.threads());
    try (Qwen35Model model = Qwen35Model.create(config, weights, runtime, weights);
        CopyBandwidth copy = new CopyBandwidth(options.copyBytes(), options.threads())) {
      long[] prompt = new long[options.promptTokens()];
      for (int i = 0; i < prompt.length; i++) {
        prompt[i] = 1000 + 37L * i;
      }
      long bytesPerToken = model.decodeWeightBytesPerToken();
      // Warm-up (JIT), then the measured repeats.
      model.generate(prompt, Optional.empty(), 4, Sampling.greedy());
      int repeats = options.repeats();
      double[] copied = new double[repeats];
      double[] decode = new double[repeats];
      double[] prefill = new double[repeats];
      double[] ratioCopied = new double[repeats];
      for (int repeat = 0; repeat < repeats; repeat++) {
        copied[repeat] = copy.bestOfFive();
        GenerationResult result = model.generate(prompt, Optional.empty(), options.decodeTokens(), Sampling.greedy());
        decode[repeat] = result.decodeTokensPerSecond();
        prefill[repeat] = result.prefillTokensPerSecond();
        ratioCopied[repeat] = decode[repeat] / (copied[repeat] / bytesPerToken);
      }
      double bestCopied = Arrays.stream(copied).max().orElseThrow();
      double fractionCopied = median(ratioCopied);
      // The read+write bound is twice the copied one, so every ratio against it is half.
      double fractionReadWrite = fractionCopied / 2;
      return new Report(runtime.kernels().name(), options.threads(), repeats, bytesPerToken, bestCopied,
          2 * bestCopied, bestCopied / bytesPerToken, 2 * bestCopied / bytesPerToken,
          Arrays.stream(decode).min().orElseThrow(), median(decode), Arrays.stream(decode).max().orElseThrow(),
          median(prefill), fractionCopied, fractionReadWrite, fractionCopied >= TARGET_FRACTION);
    }
  }

  /** The median (mean of the two middle values for an even count). */
  static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int middle = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  }

  /** Parallel copies between two off-heap buffers of {@code bytes}, allocated once and reused by every repeat. */
  static final class CopyBandwidth implements AutoCloseable {

    private final Arena arena = Arena.ofShared();
    private final MemorySegment source;
    private final MemorySegment target;
    private final long bytes;
    private final int threads;
    private final ExecutorService executor;

    CopyBandwidth(long bytes, int threads) {
      this.bytes = bytes;
      this.threads = threads;
      this.source = arena.allocate(bytes, 4096);
      this.target = arena.allocate(bytes, 4096);
      source.fill((byte) 1);
      target.fill((byte) 2);
      this.executor = Executors.newFixedThreadPool(threads);
    }

    /** Best of five parallel copies of {@code bytes} over {@code threads} threads: bytes copied per second. */
    double bestOfFive() throws Exception {
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
      return bytes * 1e9 / best;
    }

    @Override
    public void close() {
      executor.shutdownNow();
      arena.close();
    }
  }

  /** {@code DecodeBenchmark [threads] [layers] [decodeTokens] [repeats]}. */
  public static void main(String[] args) throws Exception {
    Options defaults = Options.defaults();
    Options options = new Options(
        args.length > 0 ? Integer.parseInt(args[0]) : defaults.threads(),
        args.length > 1 ? Integer.parseInt(args[1]) : defaults.layers(),
        defaults.promptTokens(),
        args.length > 2 ? Integer.parseInt(args[2]) : defaults.decodeTokens(),
        defaults.copyBytes(),
        args.length > 3 ? Integer.parseInt(args[3]) : defaults.repeats());
    System.out.println(run(options).describe());
  }
}
