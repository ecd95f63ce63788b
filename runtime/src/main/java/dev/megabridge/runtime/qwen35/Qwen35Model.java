package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.ShardsManifest;
import dev.megabridge.core.convert.torchdist.TorchDistCheckpoint;
import dev.megabridge.core.error.UnsupportedModelException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.quant.Fp8DequantizedSource;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.FloatMatrix;
import dev.megabridge.runtime.ops.Functions;
import dev.megabridge.runtime.ops.Linear;
import dev.megabridge.runtime.ops.Parallel;
import dev.megabridge.runtime.ops.TokenEmbedding;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Reference runtime of Qwen3.5(-VL), dense and MoE (docs/model.md §3–§4): fp32 activations and accumulation
 * over zero-copy F32/BF16 weights. Full forward passes with MTP logits, and generation with a KV cache plus the
 * recurrent Gated DeltaNet state.
 */
public final class Qwen35Model implements AutoCloseable {

  static final String LANGUAGE = "model.language_model.";
  static final String VISUAL = "model.visual.";

  private final Qwen35Config config;
  private final Compute compute;
  private final AutoCloseable resources;
  private final String origin;
  private final TokenEmbedding embedTokens;
  private final List<DecoderLayer> layers;
  private final float[] finalNorm;
  private final Linear lmHead;
  private final Optional<VisionTower> vision;
  private final Optional<MtpHead> mtp;
  private final float eps;

  private Qwen35Model(Qwen35Config config, ModelWeights weights, RuntimeOptions options, AutoCloseable resources,
      String origin) {
    this.config = config;
    this.resources = resources;
    this.origin = origin;
    TextConfig text = config.text();
    if (!text.hiddenAct().equals("silu")) {
      throw new UnsupportedModelException("hidden_act " + text.hiddenAct() + " (only silu)");
    }
    this.embedTokens = TokenEmbedding.of(weights.linear(LANGUAGE + "embed_tokens.weight"));
    if (embedTokens.rows() != text.vocabSize() || embedTokens.columns() != text.hiddenSize()) {
      throw new UnsupportedModelException("embed_tokens is [" + embedTokens.rows() + ", " + embedTokens.columns()
          + "], config says [" + text.vocabSize() + ", " + text.hiddenSize() + "]");
    }
    TextRotary rotary = new TextRotary(text);
    List<DecoderLayer> loaded = new ArrayList<>();
    for (int layer = 0; layer < text.numHiddenLayers(); layer++) {
      loaded.add(DecoderLayer.load(weights, LANGUAGE + "layers." + layer + ".", text, text.isFullAttention(layer),
          config.moe(), rotary));
    }
    this.layers = List.copyOf(loaded);
    this.finalNorm = weights.floats(LANGUAGE + "norm.weight");
    this.lmHead = config.tieWordEmbeddings() || !weights.contains("lm_head.weight")
        ? weights.linear(LANGUAGE + "embed_tokens.weight") : weights.linear("lm_head.weight");
    this.vision = config.vision().filter(unused -> weights.contains(VISUAL + "patch_embed.proj.weight"))
        .map(visionConfig -> new VisionTower(weights, VISUAL, visionConfig));
    this.mtp = MtpHead.present(weights) ? Optional.of(new MtpHead(weights, text, config.moe(), rotary))
        : Optional.empty();
    this.eps = (float) text.rmsNormEps();
    this.compute = new Compute(options.kernels(), new Parallel(options.threads()));
  }

  /**
   * Loads an HF folder (config.json + single or sharded safetensors, plain or blockwise FP8), a megabridge Megatron
   * shards folder (with {@code megabridge.json}, computed tensor-parallel from the rank shards) or a torch_dist
   * checkpoint (its HF view, as {@code export} gathers it) with default options.
   */
  public static Qwen35Model load(Path directory) {
    return load(directory, RuntimeOptions.defaults());
  }

  public static Qwen35Model load(Path directory, RuntimeOptions options) {
    return load(directory, Optional.empty(), options);
  }

  /**
   * @param hfConfig for a torch_dist checkpoint megabridge did not write: the HF folder with its config.json
   */
  public static Qwen35Model load(Path directory, Optional<Path> hfConfig, RuntimeOptions options) {
    if (ShardsManifest.isPresent(directory)) {
      MegatronShardWeights shards = MegatronShardWeights.open(directory);
      try {
        ShardsManifest manifest = shards.manifest();
        return new Qwen35Model(shards.qwenConfig(), shards, options, shards,
            "megatron shards " + manifest.layout().describe() + ", " + manifest.options().schema().id() + " schema");
      } catch (RuntimeException e) {
        shards.close();
        throw e;
      }
    }
    if (TorchDistCheckpoint.isPresent(directory)) {
      CheckpointSource source = CheckpointSource.openTorchDist(directory, hfConfig, AutoBridge.discover());
      try {
        Qwen35Config config = parse(directory, source.config());
        return new Qwen35Model(config, new CheckpointWeights(source.tensors(), RowKinds.of(config)), options,
            source, "torch_dist, " + source.schema().orElseThrow().id() + " schema");
      } catch (RuntimeException e) {
        source.close();
        throw e;
      }
    }
    HfConfig hfConfigFile = HfConfig.load(directory);
    Qwen35Config config = parse(directory, hfConfigFile);
    SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(directory);
    try {
      // Blockwise FP8 weights are computed with in bf16, as dequantized by the reference algorithm.
      Optional<Fp8Config> fp8 = Fp8Config.of(hfConfigFile);
      TensorSource weights = fp8.<TensorSource>map(blocks -> Fp8DequantizedSource.of(checkpoint, blocks, DType.BF16))
          .orElse(checkpoint);
      return new Qwen35Model(config, new CheckpointWeights(weights, RowKinds.of(config)), options, checkpoint,
          fp8.isPresent() ? "hf, blockwise FP8" : "hf");
    } catch (RuntimeException e) {
      checkpoint.close();
      throw e;
    }
  }

  private static Qwen35Config parse(Path directory, HfConfig hfConfig) {
    if (hfConfig.architectures().isEmpty()) {
      throw new UnsupportedModelException(directory + ": config.json names no architecture");
    }
    return Qwen35Config.parse(hfConfig, hfConfig.architectures().getFirst());
  }

  /**
   * The folder holding the model's small files (tokenizer, preprocessor config): the HF folder itself, a shards
   * folder's {@code hf/}, a torch_dist checkpoint's recorded files, or {@code hfConfig} when given.
   */
  public static Path smallFilesDirectory(Path directory, Optional<Path> hfConfig) {
    if (hfConfig.isPresent()) {
      return hfConfig.get();
    }
    if (ShardsManifest.isPresent(directory)) {
      return directory.resolve(ShardsManifest.HF_FILES_DIR);
    }
    if (TorchDistCheckpoint.isPresent(directory)) {
      try (CheckpointSource source = CheckpointSource.openTorchDist(directory, hfConfig, AutoBridge.discover())) {
        return source.smallFilesDirectory();
      }
    }
    return directory;
  }

  /** A model over any weight source (e.g. tensor-parallel shards or synthetic weights); {@code resources} closes. */
  public static Qwen35Model create(Qwen35Config config, ModelWeights weights, RuntimeOptions options,
      AutoCloseable resources) {
    return new Qwen35Model(config, weights, options, resources, "weights given in memory");
  }

  /** What the weights were loaded from: the form, and for Megatron checkpoints the layout and schema. */
  public String origin() {
    return origin;
  }

  public Qwen35Config config() {
    return config;
  }

  public boolean hasMtp() {
    return mtp.isPresent();
  }

  public int vocabularySize() {
    return lmHead.outFeatures();
  }

  /**
   * Weight bytes read to decode one token: all decoder layers (top-k experts for MoE) and the output projection
   * (the embedding lookup reads one row, counted as nothing).
   */
  public long decodeWeightBytesPerToken() {
    return layers.stream().mapToLong(DecoderLayer::weightBytesPerToken).sum() + lmHead.weightBytes();
  }

  /** Forward pass over a whole prompt: logits and MTP logits of every position. */
  public ForwardResult forward(long[] inputIds, Optional<ImageInput> image) {
    return forward(inputIds, image, ForwardTrace.NONE);
  }

  public ForwardResult forward(long[] inputIds, Optional<ImageInput> image, ForwardTrace trace) {
    int length = inputIds.length;
    InferenceState state = newState();
    Prompt prompt = embedPrompt(inputIds, image, trace);
    float[] hidden = runDecoder(state, prompt.embeddings(), length, prompt.positions(), trace);
    FloatMatrix logits = project(hidden, length);
    Optional<FloatMatrix> mtpLogits = Optional.empty();
    if (mtp.isPresent() && length > 1) {
      int rows = length - 1;
      float[] nextEmbeddings = new float[rows * embedTokens.columns()];
      for (int row = 0; row < rows; row++) {
        embedRow(inputIds[row + 1], nextEmbeddings, row * embedTokens.columns());
      }
      float[] mtpHidden = mtp.get().forward(compute, nextEmbeddings, hidden, rows,
          prompt.positions().slice(0, rows), trace);
      mtpLogits = Optional.of(project(mtpHidden, rows));
    }
    return new ForwardResult(logits, mtpLogits, prompt.positions());
  }

  /**
   * Generates up to {@code maxNewTokens} tokens after the prompt with the KV cache and recurrent state; stops early
   * after a stop token (which is included).
   */
  public GenerationResult generate(long[] promptIds, Optional<ImageInput> image, int maxNewTokens,
      Sampling sampling) {
    return generate(promptIds, image, maxNewTokens, sampling, StepObserver.NONE);
  }

  /** As {@link #generate(long[], Optional, int, Sampling)}, reporting each step to {@code observer}. */
  public GenerationResult generate(long[] promptIds, Optional<ImageInput> image, int maxNewTokens,
      Sampling sampling, StepObserver observer) {
    if (promptIds.length == 0) {
      throw new UsageException("empty prompt");
    }
    long start = System.nanoTime();
    InferenceState state = newState();
    Prompt prompt = embedPrompt(promptIds, image, ForwardTrace.NONE);
    state.ropeDelta = prompt.positions().ropeDelta();
    float[] hidden = runDecoder(state, prompt.embeddings(), promptIds.length, prompt.positions(), ForwardTrace.NONE);
    int width = embedTokens.columns();
    float[] last = Arrays.copyOfRange(hidden, hidden.length - width, hidden.length);
    Sampling.Sampler sampler = sampling.sampler();
    long[] produced = new long[maxNewTokens];
    int count = 0;
    long prefillEnd = start;
    while (count < maxNewTokens) {
      float[] logits = project(last, 1).data();
      long token = sampler.next(logits);
      if (count == 0) {
        prefillEnd = System.nanoTime();
      }
      observer.onStep(count, token, logits);
      produced[count++] = token;
      if (count == maxNewTokens || sampling.stopTokens().contains(token)) {
        break;
      }
      last = step(state, token);
    }
    long end = System.nanoTime();
    return new GenerationResult(Arrays.copyOf(produced, count), promptIds.length, prefillEnd - start,
        end - prefillEnd);
  }

  /** Appends one token to {@code state}; returns its final-normed hidden state. */
  private float[] step(InferenceState state, long token) {
    float[] embedding = new float[embedTokens.columns()];
    embedRow(token, embedding, 0);
    PositionIds positions = PositionIds.decode(state.length, 1, state.ropeDelta);
    return runDecoder(state, embedding, 1, positions, ForwardTrace.NONE);
  }

  private InferenceState newState() {
    List<LayerState> states = new ArrayList<>(layers.size());
    for (DecoderLayer layer : layers) {
      states.add(layer.mixer().newState());
    }
    return new InferenceState(states);
  }

  /** Decoder state of one sequence: per-layer caches, tokens processed, M-RoPE delta for decode positions. */
  private static final class InferenceState {
    final List<LayerState> layers;
    int length;
    int ropeDelta;

    InferenceState(List<LayerState> layers) {
      this.layers = layers;
    }
  }

  private record Prompt(float[] embeddings, PositionIds positions) {}

  /** Token embeddings with image features scattered at the image placeholders (docs/model.md §4.6) and position ids. */
  private Prompt embedPrompt(long[] inputIds, Optional<ImageInput> image, ForwardTrace trace) {
    int width = embedTokens.columns();
    float[] embeddings = new float[inputIds.length * width];
    for (int token = 0; token < inputIds.length; token++) {
      embedRow(inputIds[token], embeddings, token * width);
    }
    long imageToken = config.imageTokenId();
    int merge = config.vision().map(Qwen35Config.VisionConfig::spatialMergeSize).orElse(2);
    if (image.isPresent()) {
      VisionTower tower = vision.orElseThrow(() -> new UsageException("this model has no vision tower"));
      FloatMatrix features = tower.forward(compute, image.get(), trace);
      int row = 0;
      for (int token = 0; token < inputIds.length; token++) {
        if (inputIds[token] == imageToken) {
          if (row == features.rows()) {
            throw new UsageException("more image placeholder tokens than image features (" + features.rows() + ")");
          }
          System.arraycopy(features.data(), row++ * width, embeddings, token * width, width);
        }
      }
      if (row != features.rows()) {
        throw new UsageException(row + " image placeholder tokens for " + features.rows() + " image features");
      }
    }
    List<GridThw> grids = image.map(ImageInput::grids).orElse(List.of());
    return new Prompt(embeddings, PositionIds.of(inputIds, grids, imageToken, merge));
  }

  private void embedRow(long token, float[] out, int offset) {
    if (token < 0 || token >= embedTokens.rows()) {
      throw new UsageException("token id " + token + " outside the vocabulary [0, " + embedTokens.rows() + ")");
    }
    embedTokens.copyRow((int) token, out, offset);
  }

  /** Runs the decoder layers on {@code tokens} new rows; returns the final-normed hidden states. */
  private float[] runDecoder(InferenceState state, float[] hidden, int tokens, PositionIds positions,
      ForwardTrace trace) {
    for (int layer = 0; layer < layers.size(); layer++) {
      layers.get(layer).forward(compute, hidden, tokens, positions, state.layers.get(layer), trace, "L" + layer);
    }
    state.length += tokens;
    float[] normed = new float[hidden.length];
    Functions.rmsNormZeroCentred(hidden, tokens, embedTokens.columns(), finalNorm, eps, normed);
    trace.snapshot("final_norm", normed, tokens, embedTokens.columns());
    return normed;
  }

  private FloatMatrix project(float[] hidden, int rows) {
    float[] logits = new float[rows * lmHead.outFeatures()];
    lmHead.apply(compute, hidden, rows, logits);
    return new FloatMatrix(logits, rows, lmHead.outFeatures());
  }

  @Override
  public void close() {
    compute.close();
    try {
      resources.close();
    } catch (Exception e) {
      throw new IllegalStateException("closing model resources", e);
    }
  }
}
