package dev.megabridge.bench;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.KernelOps;
import dev.megabridge.runtime.ops.Kernels;
import dev.megabridge.runtime.ops.Linear;
import dev.megabridge.runtime.ops.Parallel;
import dev.megabridge.runtime.ops.WeightMatrix;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.RuntimeOptions;
import dev.megabridge.runtime.verify.LogprobParity;
import dev.megabridge.runtime.verify.LogprobParity.Prompt;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Time of {@code verify}'s work — the reference forward of a prompt through two models and the log-prob comparison —
 * on synthetic bf16 models with real Qwen3.5 widths, and the matrix-product throughput it achieves against the
 * peak this machine reaches in the same run.
 *
 * <p>Models: Qwen3.5-0.8B-shaped (the widths of {@link DecodeBenchmark}, all 24 layers, tied embeddings) and a model
 * with the text widths of the 9B config given (its {@code text_config}; by default 2 decoder layers, one Gated
 * DeltaNet and one full attention, plus the untied full-vocabulary lm_head). {@code verify A B} runs two models'
 * forwards; here one model runs twice (same weights, same work).
 *
 * <p>Counted FLOPs: {@code 2 × weights × tokens} for every linear layer of the forward (q/k/v/o, the GDN input and
 * output projections, gate/up/down) and for the lm_head over all tokens; not counted: the embedding lookup, the
 * depthwise causal convolution, attention scores, the Gated DeltaNet recurrence, norms.
 *
 * <p>Peaks, measured in the same run: the kernel peak is {@link Linear#apply} (the path the forward's dense layers
 * take) on a small bf16 weight matrix that stays in cache, with many tokens; the register peak (Vector API only) is
 * a loop of independent fused multiply-adds on registers, on every thread.
 */
public final class VerifyBenchmark {

  /** What to run. {@code largeLayers} applies to the 9B-shaped model; 0 skips it. */
  public record Options(int threads, int promptTokens, int repeats, int smallLayers, int largeLayers,
      Path largeConfig) {}

  /** One model shape: its time per verify (two forwards), best and median over repeats. */
  public record ShapeReport(String name, int layers, long weightBytes, long matmulFlopsPerForward,
      double bestSeconds, double medianSeconds, double gflopsBest, double fractionOfKernelPeak) {}

  public record Report(String kernels, int threads, int promptTokens, int repeats, double kernelPeakGflops,
      double registerPeakGflops, List<ShapeReport> shapes) implements dev.megabridge.core.report.Report {

    public String describe() {
      StringBuilder text = new StringBuilder(String.format(Locale.ROOT,
          "kernels %s, %d threads, %d-token prompt, verify = 2 forwards, best of %d repeats%n"
              + "matmul peak: %.1f GFLOP/s (Linear.apply on a cache-resident bf16 matrix, many tokens)",
          kernels, threads, promptTokens, repeats, kernelPeakGflops));
      if (registerPeakGflops > 0) {
        text.append(String.format(Locale.ROOT, " | register FMA peak: %.1f GFLOP/s", registerPeakGflops));
      }
      for (ShapeReport shape : shapes) {
        text.append(String.format(Locale.ROOT, "%n%s (%d layers, %.2f GiB bf16): verify %.2f s best, %.2f s median; "
                + "%.1f GFLOP matmul per forward -> %.1f GFLOP/s = %.0f %% of the matmul peak%s",
            shape.name(), shape.layers(), shape.weightBytes() / (double) (1L << 30), shape.bestSeconds(),
            shape.medianSeconds(), shape.matmulFlopsPerForward() / 1e9, shape.gflopsBest(),
            100 * shape.fractionOfKernelPeak(), registerPeakGflops > 0 ? String.format(Locale.ROOT,
                " (%.0f %% of the register peak)", 100 * shape.gflopsBest() / registerPeakGflops) : ""));
      }
      return text.toString();
    }
  }

  private VerifyBenchmark() {}

  public static Report run(Options options) throws Exception {
    if (options.repeats() < 1 || options.promptTokens() < 2 || options.threads() < 1) {
      throw new IllegalArgumentException("repeats and threads must be >= 1 and the prompt >= 2 tokens");
    }
    KernelOps kernels = Kernels.preferred();
    double kernelPeak = kernelPeakGflops(kernels, options.threads());
    double registerPeak = Kernels.vectorAvailable() ? VectorFmaPeak.gflops(options.threads()) : 0;
    List<ShapeReport> shapes = new ArrayList<>();
    if (options.smallLayers() > 0) {
      HfConfig small = HfConfig.parse(Path.of("synthetic-qwen3.5-0.8b/config.json"),
          DecodeBenchmark.configJson(options.smallLayers()));
      shapes.add(measure("Qwen3.5-0.8B-shaped", Qwen35Config.parse(small, Qwen35Config.DENSE_TEXT), options,
          kernelPeak));
    }
    if (options.largeLayers() > 0) {
      HfConfig real = HfConfig.load(options.largeConfig());
      TextConfig text = Qwen35Config.parse(real, Qwen35Config.DENSE_VL).text();
      HfConfig reduced = HfConfig.parse(options.largeConfig().resolve("config.json"),
          reducedConfigJson(text, options.largeLayers()));
      shapes.add(measure(options.largeConfig().getFileName() + "-shaped",
          Qwen35Config.parse(reduced, Qwen35Config.DENSE_TEXT), options, kernelPeak));
    }
    return new Report(kernels.name(), options.threads(), options.promptTokens(), options.repeats(), kernelPeak,
        registerPeak, shapes);
  }

  /**
   * A text-only config with the widths of {@code text} and {@code layers} decoder layers: the real pattern (three
   * Gated DeltaNet layers then one full attention) with the last layer always full attention, so that two layers
   * are one of each.
   */
  static String reducedConfigJson(TextConfig text, int layers) {
    String types = IntStream.range(0, layers)
        .mapToObj(layer -> layer == layers - 1 || layer % 4 == 3 ? "\"full_attention\"" : "\"linear_attention\"")
        .collect(Collectors.joining(", "));
    return """
        {"architectures": ["Qwen3_5ForCausalLM"], "model_type": "qwen3_5_text", "vocab_size": %d,
         "hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": %d, "layer_types": [%s],
         "num_attention_heads": %d, "num_key_value_heads": %d, "head_dim": %d, "linear_num_key_heads": %d,
         "linear_num_value_heads": %d, "linear_key_head_dim": %d, "linear_value_head_dim": %d,
         "linear_conv_kernel_dim": %d, "tie_word_embeddings": false, "rms_norm_eps": 1e-6,
         "rope_parameters": {"rope_type": "default", "rope_theta": 10000000, "partial_rotary_factor": 0.25,
                             "mrope_section": [11, 11, 10], "mrope_interleaved": true}}
        """.formatted(text.vocabSize(), text.hiddenSize(), text.intermediateSize(), layers, types,
        text.numAttentionHeads(), text.numKeyValueHeads(), text.headDim(), text.linearNumKeyHeads(),
        text.linearNumValueHeads(), text.linearKeyHeadDim(), text.linearValueHeadDim(), text.linearConvKernelDim());
  }

  private static ShapeReport measure(String name, Qwen35Config config, Options options, double kernelPeak) {
    SyntheticWeights weights = new SyntheticWeights(config);
    long flops = 2L * options.promptTokens() * matmulWeights(weights.tensors(), config);
    RuntimeOptions runtime = RuntimeOptions.defaults().withThreads(options.threads());
    try (Qwen35Model model = Qwen35Model.create(config, weights, runtime, weights)) {
      int vocabulary = model.vocabularySize();
      Random random = new Random(17);
      long[] ids = new long[options.promptTokens()];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = random.nextInt(vocabulary);
      }
      List<Prompt> prompt = List.of(new Prompt("synthetic", ids, Optional.empty()));
      // Warm-up (JIT) on a short prompt, then the measured repeats.
      LogprobParity.compare(model, model, List.of(new Prompt("warm-up", Arrays.copyOf(ids, 16), Optional.empty())),
          0);
      double[] seconds = new double[options.repeats()];
      for (int repeat = 0; repeat < seconds.length; repeat++) {
        long start = System.nanoTime();
        LogprobParity.Report report = LogprobParity.compare(model, model, prompt, 0);
        seconds[repeat] = (System.nanoTime() - start) / 1e9;
        if (!report.withinTolerance()) {
          throw new IllegalStateException("one model against itself differs by " + report.maxAbsDifference());
        }
      }
      double best = Arrays.stream(seconds).min().orElseThrow();
      double gflops = 2 * flops / best / 1e9;
      return new ShapeReport(name, config.text().numHiddenLayers(), weights.totalBytes(), flops, best,
          DecodeBenchmark.median(seconds), gflops, gflops / kernelPeak);
    }
  }

  /**
   * Elements of every weight a forward multiplies as a matrix: all 2-D weights except the embedding (a lookup) and
   * the depthwise convolution, plus the lm_head (the embedding again when tied).
   */
  static long matmulWeights(Map<String, Tensor> tensors, Qwen35Config config) {
    long elements = 0;
    for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
      String name = entry.getKey();
      Tensor tensor = entry.getValue();
      if (tensor.shape().rank() == 2 && !name.endsWith("embed_tokens.weight") && !name.endsWith("conv1d.weight")) {
        elements += tensor.numel();
      }
    }
    if (config.tieWordEmbeddings()) {
      elements += (long) config.text().vocabSize() * config.text().hiddenSize();
    }
    return elements;
  }

  /**
   * Best GFLOP/s of {@link Linear#apply} on a bf16 {@code [128, 1024]} weight (256 KiB: each thread's share stays
   * in its core's L2) with 256 tokens, over every thread: the best this machine does with the runtime's kernel.
   */
  static double kernelPeakGflops(KernelOps kernels, int threads) {
    int rows = 128;
    int columns = 1024;
    int tokens = 256;
    Random random = new Random(5);
    try (Arena arena = Arena.ofShared(); Compute compute = new Compute(kernels, new Parallel(threads))) {
      MemorySegment data = arena.allocate((long) rows * columns * 2, 64);
      for (long i = 0; i < (long) rows * columns; i++) {
        data.setAtIndex(KernelOps.BF16, i, DType.floatToBf16((float) random.nextGaussian()));
      }
      Linear layer = Linear.dense(new WeightMatrix(data, DType.BF16, rows, columns));
      float[] x = new float[tokens * columns];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) random.nextGaussian();
      }
      float[] out = new float[tokens * rows];
      double flops = 2.0 * rows * columns * tokens;
      double best = Double.MAX_VALUE;
      long deadline = System.nanoTime() + 3_000_000_000L;
      for (int round = 0; round < 20 || (round < 400 && System.nanoTime() < deadline); round++) {
        long start = System.nanoTime();
        layer.apply(compute, x, tokens, out);
        best = Math.min(best, (System.nanoTime() - start) / 1e9);
      }
      return flops / best / 1e9;
    }
  }

  /** {@code VerifyBenchmark [threads] [promptTokens] [repeats] [9B layers] [9B config folder]}. */
  public static void main(String[] args) throws Exception {
    Options options = new Options(
        args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors(),
        args.length > 1 ? Integer.parseInt(args[1]) : 256,
        args.length > 2 ? Integer.parseInt(args[2]) : 2,
        24,
        args.length > 3 ? Integer.parseInt(args[3]) : 2,
        Path.of(args.length > 4 ? args[4] : "fixtures/qwen35-configs/Qwen3.5-9B"));
    System.out.println(run(options).describe());
  }
}
