package dev.megabridge.qwen35;

import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.qwen35.Qwen35Config.LayerType;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** HF config → Megatron model provider fields (docs/mappings.md §6.2, §6.3) and Megatron-LM arguments. */
final class Qwen35Provider {
  private Qwen35Provider() {}

  static LinkedHashMap<String, Object> fields(Qwen35BridgeModel model) {
    Qwen35Config config = model.qwenConfig();
    TextConfig text = config.text();
    LinkedHashMap<String, Object> fields = new LinkedHashMap<>();
    fields.put("provider_class", config.visionLanguage()
        ? (config.moe() ? "Qwen35VLMoEModelProvider" : "Qwen35VLModelProvider")
        : "GPTModelProvider");
    // docs/mappings.md §6.2, generic part (from text_config).
    fields.put("num_layers", text.numHiddenLayers());
    fields.put("hidden_size", text.hiddenSize());
    fields.put("ffn_hidden_size", config.moe() ? text.moeIntermediateSize() : text.intermediateSize());
    fields.put("num_attention_heads", text.numAttentionHeads());
    fields.put("num_query_groups", text.numKeyValueHeads());
    fields.put("kv_channels", text.headDim());
    fields.put("vocab_size", text.vocabSize());
    fields.put("seq_length", text.maxPositionEmbeddings());
    fields.put("layernorm_epsilon", text.rmsNormEps());
    fields.put("init_method_std", text.initializerRange());
    fields.put("attention_dropout", text.attentionDropout());
    fields.put("rotary_base", text.ropeTheta());
    fields.put("make_vocab_size_divisible_by", vocabDivisor(text.vocabSize()));
    String dtype = config.declaredDtype().orElse("float32");
    String paramsDtype = switch (dtype.toLowerCase(Locale.ROOT)) {
      case "bfloat16", "bf16" -> "bfloat16";
      case "float16", "fp16", "half" -> "float16";
      default -> "float32";
    };
    fields.put("params_dtype", paramsDtype);
    fields.put("bf16", paramsDtype.equals("bfloat16"));
    fields.put("fp16", paramsDtype.equals("float16"));
    fields.put("activation_func", text.hiddenAct());
    // docs/mappings.md §6.2, common Qwen3.5 part.
    fields.put("normalization", "RMSNorm");
    fields.put("gated_linear_unit", true);
    fields.put("add_qkv_bias", text.attentionBias());
    fields.put("add_bias_linear", false);
    fields.put("qk_layernorm", true);
    fields.put("hidden_dropout", 0.0);
    fields.put("layernorm_zero_centered_gamma", true);
    fields.put("attention_output_gate", true);
    fields.put("experimental_attention_variant", "gated_delta_net");
    fields.put("linear_attention_freq", linearAttentionFreq(text));
    fields.put("linear_conv_kernel_dim", text.linearConvKernelDim());
    fields.put("linear_key_head_dim", text.linearKeyHeadDim());
    fields.put("linear_value_head_dim", text.linearValueHeadDim());
    fields.put("linear_num_key_heads", text.linearNumKeyHeads());
    fields.put("linear_num_value_heads", text.linearNumValueHeads());
    fields.put("rotary_percent", text.partialRotaryFactor());
    fields.put("mtp_num_layers", model.mtpLayers() == 0 ? null : model.mtpLayers());
    if (model.mtpLayers() > 0) {
      fields.put("mtp_loss_scaling_factor", 0.1);
    }
    // docs/mappings.md §6.2, MoE part.
    if (config.moe()) {
      fields.put("num_moe_experts", text.numExperts());
      fields.put("moe_router_topk", text.numExpertsPerTok());
      fields.put("moe_ffn_hidden_size", text.moeIntermediateSize());
      fields.put("moe_shared_expert_intermediate_size", text.sharedExpertIntermediateSize());
      fields.put("moe_shared_expert_gate", true);
      fields.put("moe_grouped_gemm", true);
      fields.put("moe_router_load_balancing_type", "global_aux_loss");
      fields.put("moe_router_pre_softmax", false);
      fields.put("moe_router_score_function", "softmax");
      fields.put("moe_router_dtype", "fp32");
      fields.put("moe_token_dispatcher_type", "alltoall");
      fields.put("moe_permute_fusion", true);
      fields.put("moe_aux_loss_coeff", config.source().top().section("text_config")
          .flatMap(section -> section.optDouble("router_aux_loss_coef")).orElse(1e-3));
    }
    // docs/mappings.md §6.2, VL part.
    fields.put("share_embeddings_and_output_weights", config.tieWordEmbeddings());
    fields.put("position_embedding_type", config.visionLanguage() ? "mrope" : "rope");
    fields.put("mrope_section", text.mropeSection());
    fields.put("head_dim", text.headDim());
    // docs/mappings.md §6.2: defaults apply only to a missing key; a key present as JSON null is copied as null.
    ConfigSection textSection = config.source().top().section("text_config").orElse(config.source().top());
    fields.put("bos_token_id", tokenId(textSection, "bos_token_id",
        text.bosTokenId().orElse(config.visionLanguage() && !config.moe() ? 248045L : null)));
    fields.put("eos_token_id", tokenId(textSection, "eos_token_id",
        text.eosTokenId().orElse(config.moe() ? 248046L : 248044L)));
    if (config.visionLanguage()) {
      fields.put("vision_start_token_id", config.visionStartTokenId());
      fields.put("vision_end_token_id", config.visionEndTokenId());
      fields.put("image_token_id", config.imageTokenId());
      fields.put("video_token_id", config.videoTokenId());
      if (config.moe()) {
        fields.put("audio_token_id", tokenId(config.source().top(), "audio_token_id",
            config.source().top().optLong("audio_token_id").orElse(248076L)));
      }
      config.vision().ifPresent(vision -> {
        Map<String, Object> visionFields = new LinkedHashMap<>();
        visionFields.put("num_layers", vision.depth());
        visionFields.put("hidden_size", vision.hiddenSize());
        visionFields.put("num_attention_heads", vision.numHeads());
        visionFields.put("ffn_hidden_size", vision.intermediateSize());
        visionFields.put("kv_channels", vision.headDim());
        visionFields.put("num_query_groups", vision.numHeads());
        visionFields.put("add_bias_linear", true);
        visionFields.put("add_qkv_bias", true);
        visionFields.put("normalization", "LayerNorm");
        visionFields.put("layernorm_epsilon", 1e-6);
        visionFields.put("gated_linear_unit", false);
        visionFields.put("activation_func", vision.hiddenAct());
        visionFields.put("layernorm_zero_centered_gamma", false);
        visionFields.put("patch_size", vision.patchSize());
        visionFields.put("temporal_patch_size", vision.temporalPatchSize());
        visionFields.put("spatial_merge_size", vision.spatialMergeSize());
        visionFields.put("in_channels", vision.inChannels());
        visionFields.put("out_hidden_size", vision.outHiddenSize());
        visionFields.put("num_position_embeddings", vision.numPositionEmbeddings());
        visionFields.put("deepstack_visual_indexes", vision.deepstackVisualIndexes());
        visionFields.put("params_dtype", paramsDtype);
        fields.put("vision_config", visionFields);
      });
    }
    return fields;
  }

  /** {@code value}, unless the config holds {@code key} explicitly as JSON null (then null, docs/mappings.md §6.2). */
  private static Long tokenId(ConfigSection section, String key, Long value) {
    return section.has(key) && !section.hasValue(key) ? null : value;
  }

  /** Largest power of two ≤ 128 dividing the vocabulary (docs/mappings.md §6.2; 248320 ⇒ 128). */
  static int vocabDivisor(long vocab) {
    int divisor = 128;
    while (divisor > 1 && vocab % divisor != 0) {
      divisor /= 2;
    }
    return divisor;
  }

  /**
   * docs/mappings.md §6.2: an explicit {@code layer_types} list gives a list (1 = linear attention, 0 = full
   * attention); otherwise the interval (default 4).
   */
  static Object linearAttentionFreq(TextConfig text) {
    if (text.layerTypesExplicit()) {
      return text.layerTypes().stream().map(type -> type == LayerType.LINEAR_ATTENTION ? 1 : 0).toList();
    }
    return text.fullAttentionInterval().orElse(4);
  }

  static List<String> megatronArgs(Qwen35BridgeModel model) {
    Qwen35Config config = model.qwenConfig();
    TextConfig text = config.text();
    Map<String, Object> fields = fields(model);
    List<String> args = new ArrayList<>();
    args.addAll(List.of("--num-layers", str(text.numHiddenLayers()), "--hidden-size", str(text.hiddenSize()),
        "--ffn-hidden-size", str(fields.get("ffn_hidden_size")), "--num-attention-heads", str(text.numAttentionHeads()),
        "--group-query-attention", "--num-query-groups", str(text.numKeyValueHeads()), "--kv-channels",
        str(text.headDim()), "--vocab-size", str(text.vocabSize()), "--max-position-embeddings",
        str(text.maxPositionEmbeddings()), "--normalization", "RMSNorm", "--apply-layernorm-1p", "--norm-epsilon",
        str(text.rmsNormEps()), "--init-method-std", str(text.initializerRange()), "--swiglu", "--disable-bias-linear",
        "--qk-layernorm", "--attention-output-gate", "--attention-dropout", str(text.attentionDropout()), "--hidden-dropout", "0.0",
        "--position-embedding-type", config.visionLanguage() ? "mrope" : "rope"));
    if (config.visionLanguage()) {
      args.add("--mrope-section");
      text.mropeSection().forEach(section -> args.add(str(section)));
    }
    args.addAll(List.of("--rotary-percent", str(text.partialRotaryFactor()), "--rotary-base",
        str((long) text.ropeTheta())));
    if (text.attentionBias()) {
      args.add("--add-qkv-bias");
    }
    if (!config.tieWordEmbeddings()) {
      args.add("--untie-embeddings-and-output-weights");
    }
    args.addAll(List.of("--experimental-attention-variant", "gated_delta_net", "--linear-attention-freq",
        linearAttentionFreqArgument(text),
        "--linear-conv-kernel-dim", str(text.linearConvKernelDim()), "--linear-key-head-dim",
        str(text.linearKeyHeadDim()), "--linear-value-head-dim", str(text.linearValueHeadDim()),
        "--linear-num-key-heads", str(text.linearNumKeyHeads()), "--linear-num-value-heads",
        str(text.linearNumValueHeads())));
    if (config.moe()) {
      args.addAll(List.of("--num-experts", str(text.numExperts()), "--moe-router-topk", str(text.numExpertsPerTok()),
          "--moe-ffn-hidden-size", str(text.moeIntermediateSize()), "--moe-shared-expert-intermediate-size",
          str(text.sharedExpertIntermediateSize()), "--moe-shared-expert-gate", "--moe-router-score-function",
          "softmax", "--moe-token-dispatcher-type", "alltoall", "--moe-layer-freq",
          "[1]*" + text.numHiddenLayers(), "--moe-grouped-gemm", "--moe-router-dtype", "fp32",
          "--moe-permute-fusion"));
    }
    if (model.mtpLayers() > 0) {
      args.addAll(List.of("--mtp-num-layers", str(model.mtpLayers())));
    }
    Object dtype = fields.get("params_dtype");
    if ("bfloat16".equals(dtype)) {
      args.add("--bf16");
    } else if ("float16".equals(dtype)) {
      args.add("--fp16");
    }
    return args;
  }

  /** Argument text: integral numbers without a fraction, other doubles in short form (1e-06 → "1e-6"). */
  static String str(Object value) {
    if (value instanceof Double number) {
      if (number == Math.rint(number) && Math.abs(number) < 1e15) {
        return Long.toString(number.longValue()) + (number == 0.0 ? ".0" : "");
      }
      return Double.toString(number).replace(".0E", "e").replace("E", "e");
    }
    return String.valueOf(value);
  }

  /** The interval N when the pattern is "full attention every N-th layer", else the explicit list. */
  private static String linearAttentionFreqArgument(TextConfig text) {
    List<LayerType> types = text.layerTypes();
    for (int interval = 1; interval <= types.size(); interval++) {
      boolean matches = true;
      for (int layer = 0; layer < types.size() && matches; layer++) {
        boolean full = (layer + 1) % interval == 0;
        matches = full == (types.get(layer) == LayerType.FULL_ATTENTION);
      }
      if (matches) {
        return Integer.toString(interval);
      }
    }
    return types.stream().map(type -> type == LayerType.LINEAR_ATTENTION ? "1" : "0")
        .collect(Collectors.joining(",", "[", "]"));
  }
}
