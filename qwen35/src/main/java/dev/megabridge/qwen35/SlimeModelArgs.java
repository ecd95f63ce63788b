package dev.megabridge.qwen35;

import static dev.megabridge.qwen35.Qwen35Provider.str;

import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The model arguments of slime's {@code scripts/models/qwen3.5-*.sh} (docs/mappings.md §6.4) for a config: what
 * slime {@code main} needs on its command line to build the native Qwen3.5 model that {@code --schema slime}
 * checkpoints are written for, in the scripts' order.
 *
 * <p>Every size comes from the config (docs/mappings.md §6.4, {@code text_config} for VL configs), never
 * from the model name: {@code num_hidden_layers}, {@code hidden_size}, {@code num_attention_heads},
 * {@code num_key_value_heads}, {@code head_dim}, {@code intermediate_size} (dense; MoE passes
 * {@code moe_intermediate_size}, as slime's 35B-A3B script does: the dense MLP is never built), {@code vocab_size},
 * {@code rms_norm_eps}, {@code rope_theta}, {@code partial_rotary_factor}, {@code tie_word_embeddings},
 * {@code attention_bias}, the MoE sizes and the MTP depth. The remaining flags are what the scripts pass for every
 * Qwen3.5 model (zero-centred norms, SwiGLU, the output-gated attention every Qwen3.5 has, the MoE router and dispatcher settings, no auxiliary
 * loss). Not Megatron arguments and so not printed: the Gated DeltaNet dimensions, the layer pattern,
 * {@code mrope_section} and the vision config — slime reads them from {@code --hf-checkpoint} when it builds the
 * model. {@code --position-embedding-type} is {@code rope} for the VL model too: its provider sets up the
 * multimodal rotary embedding itself (docs/mappings.md §6.4). No dtype flag: slime forces bf16 (docs/mappings.md §5.3).
 *
 * <p>Which model: a VL config ({@code *ForConditionalGeneration}) gets slime's VL model
 * ({@code slime_plugins.models.qwen3_5_vl get_qwen3_5_vl_model_provider}, as {@code qwen3.5-35B-A3B-vl.sh}), also
 * for the dense sizes, whose slime scripts (9B, 27B) name the text spec: the text spec builds a bare GPTModel
 * without the {@code language_model.} prefix and without the vision tower, so it cannot load the slime checkpoint
 * megabridge writes for a VL config ({@code language_model.*} and {@code model.visual.*}, docs/mappings.md §5.1),
 * and it would drop the vision weights. The VL provider is generic over dense and MoE (docs/mappings.md §6.4). A
 * text-only config ({@code *ForCausalLM}) gets the text spec {@code slime_plugins.models.qwen3_5 get_qwen3_5_spec}.
 *
 * <p>MTP: {@code --mtp-num-layers N} exactly when the config declares N &gt; 0 MTP layers (slime's scripts leave
 * it out; {@code run-qwen3.5-35B-A3B-sft.sh} has it commented out). megabridge writes the MTP weights of such a
 * config, and slime builds and loads the MTP block only with this flag (docs/mappings.md §6.4).
 */
final class SlimeModelArgs {
  private SlimeModelArgs() {}

  /** slime's text model (no wrapper, no name prefix). */
  static final List<String> TEXT_SPEC = List.of("slime_plugins.models.qwen3_5", "get_qwen3_5_spec");

  /** slime's VL model ({@code language_model.} + {@code model.visual.}). */
  static final List<String> VL_SPEC = List.of("slime_plugins.models.qwen3_5_vl", "get_qwen3_5_vl_model_provider");

  static List<String> of(Qwen35BridgeModel model) {
    Qwen35Config config = model.qwenConfig();
    TextConfig text = config.text();
    List<String> args = new ArrayList<>();
    args.add("--spec");
    args.addAll(config.visionLanguage() ? VL_SPEC : TEXT_SPEC);
    args.addAll(List.of("--disable-bias-linear", "--qk-layernorm", "--group-query-attention",
        "--num-attention-heads", str(text.numAttentionHeads()), "--num-query-groups", str(text.numKeyValueHeads()),
        "--kv-channels", str(text.headDim()), "--num-layers", str(text.numHiddenLayers()),
        "--hidden-size", str(text.hiddenSize()),
        "--ffn-hidden-size", str(config.moe() ? text.moeIntermediateSize() : text.intermediateSize()),
        "--use-gated-attention", "--normalization", "RMSNorm", "--apply-layernorm-1p",
        "--position-embedding-type", "rope", "--norm-epsilon", str(text.rmsNormEps()),
        "--rotary-percent", str(text.partialRotaryFactor()), "--swiglu"));
    if (!config.tieWordEmbeddings()) {
      args.add("--untie-embeddings-and-output-weights");
    }
    args.addAll(List.of("--vocab-size", str(text.vocabSize()), "--rotary-base", str(text.ropeTheta())));
    if (config.moe()) {
      // Every Qwen3.5 MoE layer is sparse: the script's MOE_LAYER_FREQ is a list of num_hidden_layers ones.
      String everyLayer = "[" + String.join(",", Collections.nCopies(text.numHiddenLayers(), "1")) + "]";
      args.addAll(List.of("--moe-ffn-hidden-size", str(text.moeIntermediateSize()),
          "--moe-shared-expert-intermediate-size", str(text.sharedExpertIntermediateSize()),
          "--moe-router-score-function", "softmax", "--moe-token-dispatcher-type", "alltoall",
          "--moe-router-topk", str(text.numExpertsPerTok()), "--moe-layer-freq", everyLayer,
          "--num-experts", str(text.numExperts()), "--moe-grouped-gemm", "--moe-token-drop-policy", "probs",
          "--moe-router-dtype", "fp32", "--moe-permute-fusion", "--moe-aux-loss-coeff", "0"));
    }
    args.add("--attention-output-gate");
    if (config.moe()) {
      args.add("--moe-shared-expert-gate");
    }
    if (text.attentionBias()) {
      args.add("--add-qkv-bias");
    }
    if (model.mtpLayers() > 0) {
      args.addAll(List.of("--mtp-num-layers", str(model.mtpLayers())));
    }
    return args;
  }
}
