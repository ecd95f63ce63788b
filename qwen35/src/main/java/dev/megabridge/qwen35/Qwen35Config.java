package dev.megabridge.qwen35;

import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.core.config.HfConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A Qwen3.5(-VL) {@code config.json} with the class defaults of docs/mappings.md §6.1 applied where a key is
 * missing (transformers omits keys equal to their default). {@code vision} is empty for the text-only
 * {@code *ForCausalLM} architectures, whose text fields sit at the top level.
 */
public record Qwen35Config(
    HfConfig source,
    String architecture,
    boolean moe,
    boolean visionLanguage,
    TextConfig text,
    Optional<VisionConfig> vision,
    boolean tieWordEmbeddings,
    long imageTokenId,
    long videoTokenId,
    long visionStartTokenId,
    long visionEndTokenId) {

  /** The language model part (docs/mappings.md §6.1). */
  public record TextConfig(
      String modelType,
      long vocabSize,
      int hiddenSize,
      int intermediateSize,
      int numHiddenLayers,
      int numAttentionHeads,
      int numKeyValueHeads,
      int headDim,
      String hiddenAct,
      long maxPositionEmbeddings,
      double rmsNormEps,
      double initializerRange,
      boolean attentionBias,
      double attentionDropout,
      List<LayerType> layerTypes,
      boolean layerTypesExplicit,
      Optional<Integer> fullAttentionInterval,
      double ropeTheta,
      double partialRotaryFactor,
      List<Integer> mropeSection,
      int linearConvKernelDim,
      int linearKeyHeadDim,
      int linearValueHeadDim,
      int linearNumKeyHeads,
      int linearNumValueHeads,
      int numExperts,
      int numExpertsPerTok,
      int moeIntermediateSize,
      int sharedExpertIntermediateSize,
      Optional<Integer> mtpNumHiddenLayers,
      Optional<Long> bosTokenId,
      Optional<Long> eosTokenId,
      Optional<String> dtype) {

    public TextConfig {
      layerTypes = List.copyOf(layerTypes);
      mropeSection = List.copyOf(mropeSection);
    }

    public int keyDim() {
      return linearNumKeyHeads * linearKeyHeadDim;
    }

    public int valueDim() {
      return linearNumValueHeads * linearValueHeadDim;
    }

    public int convDim() {
      return 2 * keyDim() + valueDim();
    }

    public int rotaryDim() {
      return (int) (headDim * partialRotaryFactor);
    }

    public boolean isFullAttention(int layer) {
      return layerTypes.get(layer) == LayerType.FULL_ATTENTION;
    }
  }

  /** The vision tower (docs/mappings.md §6.1). */
  public record VisionConfig(
      int depth,
      int hiddenSize,
      int intermediateSize,
      int numHeads,
      String hiddenAct,
      int inChannels,
      int patchSize,
      int temporalPatchSize,
      int spatialMergeSize,
      int outHiddenSize,
      int numPositionEmbeddings,
      List<Long> deepstackVisualIndexes) {

    public VisionConfig {
      deepstackVisualIndexes = List.copyOf(deepstackVisualIndexes);
    }

    public int headDim() {
      return hiddenSize / numHeads;
    }

    /** Width of the merged patch vector fed to the merger: hidden × merge². */
    public int mergedHiddenSize() {
      return hiddenSize * spatialMergeSize * spatialMergeSize;
    }
  }

  /** Mixer kind of one decoder layer. */
  public enum LayerType {
    LINEAR_ATTENTION("linear_attention"),
    FULL_ATTENTION("full_attention");

    private final String hfName;

    LayerType(String hfName) {
      this.hfName = hfName;
    }

    public String hfName() {
      return hfName;
    }
  }

  public static final String DENSE_VL = "Qwen3_5ForConditionalGeneration";
  public static final String MOE_VL = "Qwen3_5MoeForConditionalGeneration";
  public static final String DENSE_TEXT = "Qwen3_5ForCausalLM";
  public static final String MOE_TEXT = "Qwen3_5MoeForCausalLM";

  /** Parses {@code config} for {@code architecture} (one of the four constants). */
  public static Qwen35Config parse(HfConfig config, String architecture) {
    if (!List.of(DENSE_VL, MOE_VL, DENSE_TEXT, MOE_TEXT).contains(architecture)) {
      throw config.top().invalid("architectures", "'" + architecture + "' is not a Qwen3.5 architecture");
    }
    boolean moe = architecture.equals(MOE_VL) || architecture.equals(MOE_TEXT);
    boolean visionLanguage = architecture.equals(DENSE_VL) || architecture.equals(MOE_VL);
    ConfigSection top = config.top();
    ConfigSection textSection = visionLanguage
        ? top.section("text_config").orElseThrow(() -> top.missing("text_config"))
        : top.section("text_config").orElse(top);
    TextConfig text = parseText(textSection, top, moe);
    Optional<VisionConfig> vision = Optional.empty();
    if (visionLanguage) {
      ConfigSection visionSection = top.section("vision_config").orElseThrow(() -> top.missing("vision_config"));
      VisionConfig parsed = parseVision(visionSection);
      if (parsed.outHiddenSize() != text.hiddenSize()) {
        // A default on either side is the likelier culprit than the key that is there: name the missing one.
        if (!textSection.hasValue("hidden_size")) {
          throw textSection.missing("hidden_size", visionSection.hasValue("out_hidden_size")
              ? "its default " + text.hiddenSize() + " differs from vision_config.out_hidden_size "
                  + parsed.outHiddenSize()
              : "vision_config.out_hidden_size is missing too, and their defaults " + text.hiddenSize() + " and "
                  + parsed.outHiddenSize() + " differ");
        }
        if (!visionSection.hasValue("out_hidden_size")) {
          throw visionSection.missing("out_hidden_size", "its default " + parsed.outHiddenSize()
              + " differs from text_config.hidden_size " + text.hiddenSize());
        }
        throw visionSection.invalid("out_hidden_size", parsed.outHiddenSize()
            + " differs from text_config.hidden_size " + text.hiddenSize());
      }
      if (!parsed.deepstackVisualIndexes().isEmpty()) {
        throw visionSection.invalid("deepstack_visual_indexes", "must be empty for Qwen3.5 (no deepstack)");
      }
      vision = Optional.of(parsed);
    }
    // The VL model's tie flag is the top-level one (docs/mappings.md §6.1); text-only models read their own.
    boolean tie = visionLanguage ? top.booleanOr("tie_word_embeddings", false)
        : textSection.booleanOr("tie_word_embeddings", false);
    return new Qwen35Config(config, architecture, moe, visionLanguage, text, vision, tie,
        top.longOr("image_token_id", 248056), top.longOr("video_token_id", 248057),
        top.longOr("vision_start_token_id", 248053), top.longOr("vision_end_token_id", 248054));
  }

  /** {@code top} is the config's top level, whose {@code dtype} applies where the text section has none. */
  private static TextConfig parseText(ConfigSection section, ConfigSection top, boolean moe) {
    int layers = positiveInt(section, "num_hidden_layers", moe ? 40 : 32);
    Optional<Integer> interval = section.optInt("full_attention_interval");
    Optional<List<String>> explicitTypes = section.optStringList("layer_types");
    List<LayerType> layerTypes = new ArrayList<>();
    if (explicitTypes.isPresent() && !explicitTypes.get().isEmpty()) {
      if (explicitTypes.get().size() != layers) {
        throw section.invalid("layer_types", "has " + explicitTypes.get().size() + " entries but num_hidden_layers is "
            + layers);
      }
      for (String type : explicitTypes.get()) {
        layerTypes.add(switch (type) {
          case "linear_attention" -> LayerType.LINEAR_ATTENTION;
          case "full_attention" -> LayerType.FULL_ATTENTION;
          default -> throw section.invalid("layer_types", "unknown layer type '" + type + "'");
        });
      }
    } else {
      int every = positiveInt(section, "full_attention_interval", 4);
      for (int layer = 0; layer < layers; layer++) {
        layerTypes.add((layer + 1) % every == 0 ? LayerType.FULL_ATTENTION : LayerType.LINEAR_ATTENTION);
      }
    }
    // rope: rope_parameters, then rope_scaling, then top-level keys (docs/mappings.md §6.1).
    Optional<ConfigSection> rope = section.section("rope_parameters").or(() -> section.section("rope_scaling"));
    double theta = rope.flatMap(r -> r.optDouble("rope_theta")).or(() -> section.optDouble("rope_theta"))
        .orElseThrow(() -> section.invalid("rope_parameters", "no rope_theta anywhere (real configs always carry it)"));
    // The key path that error messages name for rope settings: where they were (or would be) read.
    String ropeKey = section.hasValue("rope_parameters") || !section.hasValue("rope_scaling")
        ? "rope_parameters" : "rope_scaling";
    if (!(theta > 0) || Double.isInfinite(theta)) {
      throw section.invalid(ropeKey + ".rope_theta", "must be a positive finite number, got " + theta);
    }
    double partial = rope.flatMap(r -> r.optDouble("partial_rotary_factor"))
        .or(() -> section.optDouble("partial_rotary_factor")).orElse(0.25);
    if (!(partial > 0 && partial <= 1)) {
      throw section.invalid(ropeKey + ".partial_rotary_factor", "must lie in (0, 1], got " + partial);
    }
    List<Integer> mrope = rope.flatMap(r -> r.optIntList("mrope_section")).orElse(List.of(11, 11, 10));
    Optional<String> ropeType = rope.flatMap(r -> r.optString("rope_type").or(() -> r.optString("type")));
    if (ropeType.isPresent() && !ropeType.get().equals("default") && !ropeType.get().equals("mrope")) {
      throw section.invalid(ropeKey + ".rope_type", "'" + ropeType.get() + "' is not supported (only default)");
    }
    int headDim = positiveInt(section, "head_dim", 256);
    int heads = positiveInt(section, "num_attention_heads", 16);
    int kvHeads = positiveInt(section, "num_key_value_heads", moe ? 2 : 4);
    int rotaryDim = (int) (headDim * partial);
    if (mrope.size() != 3 || mrope.stream().anyMatch(part -> part < 0)
        || mrope.stream().mapToLong(Integer::longValue).sum() * 2 != rotaryDim) {
      throw section.invalid(ropeKey + ".mrope_section", mrope
          + " must have 3 non-negative entries summing to rotary_dim/2 = " + rotaryDim / 2);
    }
    if (heads % kvHeads != 0) {
      throw section.invalid("num_attention_heads", heads + " is not a multiple of num_key_value_heads " + kvHeads);
    }
    int keyHeads = positiveInt(section, "linear_num_key_heads", 16);
    int valueHeads = positiveInt(section, "linear_num_value_heads", 32);
    if (valueHeads % keyHeads != 0) {
      throw section.invalid("linear_num_value_heads", valueHeads + " is not a multiple of linear_num_key_heads "
          + keyHeads);
    }
    int hidden = positiveInt(section, "hidden_size", moe ? 2048 : 4096);
    int intermediate = moe ? 0 : positiveInt(section, "intermediate_size", 12288);
    int experts = moe ? positiveInt(section, "num_experts", 256) : 0;
    int topK = moe ? positiveInt(section, "num_experts_per_tok", 8) : 0;
    if (topK > experts) {
      throw section.invalid("num_experts_per_tok", topK + " is not within 1.." + experts);
    }
    double rmsNormEps = section.doubleOr("rms_norm_eps", 1e-6);
    if (!(rmsNormEps > 0)) {
      throw section.invalid("rms_norm_eps", "must be positive, got " + rmsNormEps);
    }
    long vocabSize = section.longOr("vocab_size", 248320);
    if (vocabSize <= 0) {
      throw section.invalid("vocab_size", "must be positive, got " + vocabSize);
    }
    Optional<Integer> mtp = section.optInt("mtp_num_hidden_layers");
    if (mtp.isPresent() && mtp.get() < 0) {
      throw section.invalid("mtp_num_hidden_layers", "is negative");
    }
    return new TextConfig(
        section.stringOr("model_type", moe ? "qwen3_5_moe_text" : "qwen3_5_text"),
        vocabSize,
        hidden,
        intermediate,
        layers,
        heads,
        kvHeads,
        headDim,
        section.stringOr("hidden_act", "silu"),
        section.longOr("max_position_embeddings", 32768),
        rmsNormEps,
        section.doubleOr("initializer_range", 0.02),
        section.booleanOr("attention_bias", false),
        section.doubleOr("attention_dropout", 0.0),
        layerTypes,
        explicitTypes.isPresent() && !explicitTypes.get().isEmpty(),
        interval,
        theta,
        partial,
        mrope,
        positiveInt(section, "linear_conv_kernel_dim", 4),
        positiveInt(section, "linear_key_head_dim", 128),
        positiveInt(section, "linear_value_head_dim", 128),
        keyHeads,
        valueHeads,
        experts,
        topK,
        moe ? positiveInt(section, "moe_intermediate_size", 512) : 0,
        moe ? positiveInt(section, "shared_expert_intermediate_size", 512) : 0,
        mtp,
        section.optLong("bos_token_id"),
        section.optLong("eos_token_id"),
        section.optString("dtype").or(() -> section.optString("torch_dtype"))
            .or(() -> top.optString("dtype")).or(() -> top.optString("torch_dtype")));
  }

  private static VisionConfig parseVision(ConfigSection section) {
    VisionConfig vision = new VisionConfig(
        positiveInt(section, "depth", 27),
        positiveInt(section, "hidden_size", 1152),
        positiveInt(section, "intermediate_size", 4304),
        positiveInt(section, "num_heads", 16),
        section.stringOr("hidden_act", "gelu_pytorch_tanh"),
        positiveInt(section, "in_channels", 3),
        positiveInt(section, "patch_size", 16),
        positiveInt(section, "temporal_patch_size", 2),
        positiveInt(section, "spatial_merge_size", 2),
        positiveInt(section, "out_hidden_size", 3584),
        positiveInt(section, "num_position_embeddings", 2304),
        section.optLongList("deepstack_visual_indexes").orElse(List.of()));
    if (vision.hiddenSize() % vision.numHeads() != 0) {
      throw section.invalid("hidden_size", vision.hiddenSize() + " is not a multiple of num_heads " + vision.numHeads());
    }
    long side = Math.round(Math.sqrt(vision.numPositionEmbeddings()));
    if (side * side != vision.numPositionEmbeddings()) {
      throw section.invalid("num_position_embeddings", vision.numPositionEmbeddings() + " is not a square");
    }
    return vision;
  }

  /** The integer at {@code key} (or {@code fallback} when missing), which must be positive. */
  private static int positiveInt(ConfigSection section, String key, int fallback) {
    int value = section.intOr(key, fallback);
    if (value <= 0) {
      throw section.invalid(key, "must be positive, got " + value);
    }
    return value;
  }

  /** Number of MTP layers declared by the config (0 when absent). */
  public int declaredMtpLayers() {
    return text.mtpNumHiddenLayers().orElse(0);
  }

  /** The storage dtype named by the config ({@code text_config.dtype}, else top-level {@code dtype}). */
  public Optional<String> declaredDtype() {
    return text.dtype().or(() -> source.top().optString("dtype")).or(() -> source.top().optString("torch_dtype"));
  }
}
