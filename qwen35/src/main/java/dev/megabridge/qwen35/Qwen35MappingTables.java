package dev.megabridge.qwen35;

import dev.megabridge.core.mapping.AliasRule;
import dev.megabridge.core.mapping.ColumnMapping;
import dev.megabridge.core.mapping.GatedMlpMapping;
import dev.megabridge.core.mapping.GatedQkvMapping;
import dev.megabridge.core.mapping.GdnConv1dMapping;
import dev.megabridge.core.mapping.GdnHeads;
import dev.megabridge.core.mapping.GdnInProjMapping;
import dev.megabridge.core.mapping.MappingRegistry;
import dev.megabridge.core.mapping.PackedExpertMapping.Projection;
import dev.megabridge.core.mapping.PackedExpertMapping;
import dev.megabridge.core.mapping.PaddedVocabMapping;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.mapping.ReplicatedMapping;
import dev.megabridge.core.mapping.RowMapping;
import dev.megabridge.core.mapping.VisionQkvMapping;
import dev.megabridge.core.mapping.ZeroCenteredNormMapping;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.VocabPadding;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.qwen35.Qwen35Config.VisionConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * The Qwen3.5(-VL) mapping tables of docs/mappings.md §4.3–§4.8 in the priority order of its §4.9, followed by
 * the separate-LayerNorm aliases and the slime MTP alias ({@code .mtp_model_layer.} → {@code .transformer_layer.},
 * both docs/mappings.md §1.3); the slime schema's tables (docs/mappings.md §5). Row comments name the table of
 * that document.
 */
public final class Qwen35MappingTables {

  /** The slime PR #2075 alias: the legacy MTP inner-layer name. */
  public static final AliasRule MTP_LEGACY_ALIAS = AliasRule.infix(".mtp_model_layer.", ".transformer_layer.");

  /** docs/mappings.md §1.3: separate-LayerNorm aliases, appended by every registry. */
  public static final AliasRule SEPARATE_LAYERNORM_ALIASES = AliasRule.firstOf(
      AliasRule.suffix("self_attention.linear_qkv.layer_norm_weight", "input_layernorm.weight"),
      AliasRule.suffix("self_attention.linear_qkv.layer_norm_bias", "input_layernorm.bias"),
      AliasRule.suffix("mlp.linear_fc1.layer_norm_weight", "pre_mlp_layernorm.weight"),
      AliasRule.suffix("mlp.linear_fc1.layer_norm_bias", "pre_mlp_layernorm.bias"));

  /** The nine Gated DeltaNet tensors of slime's HF-layout module, in its state-dict order (docs/mappings.md §5.1). */
  public static final List<String> SLIME_GDN_TENSORS = List.of("dt_bias", "A_log", "conv1d.weight",
      "in_proj_qkv.weight", "in_proj_z.weight", "in_proj_b.weight", "in_proj_a.weight", "norm.weight",
      "out_proj.weight");

  /**
   * slime keeps the transformers vision tower as {@code model.visual}: Megatron and HF names coincide
   * (docs/mappings.md §5.1).
   */
  public static final String SLIME_VISION_PREFIX = "model.visual.";

  private Qwen35MappingTables() {}

  /** Which main-decoder / MTP routed-expert storage the HF checkpoint uses (docs/mappings.md §4.9). */
  public enum ExpertStorage {
    PER_EXPERT,
    PACKED
  }

  /** Naming prefixes of the VL and text-only variants (docs/mappings.md §4.2). */
  record Prefixes(String megatron, String hfLanguage, String megatronMtp) {
    static Prefixes of(boolean visionLanguage) {
      return visionLanguage
          ? new Prefixes("language_model.", "model.language_model.", "language_model.mtp.layers")
          : new Prefixes("", "model.", "mtp.layers");
    }
  }

  /**
   * The full registry for one model: table rows, separate-LayerNorm aliases, then the MTP legacy alias
   * (so both inner names resolve to the same HF tensors with identical transforms).
   */
  public static MappingRegistry registry(Qwen35Config config, ExpertStorage mainExperts, ExpertStorage mtpExperts,
      BridgeOptions options) {
    return switch (options.schema()) {
      case MEGATRON_BRIDGE -> megatronBridgeRegistry(config, mainExperts, mtpExperts);
      case SLIME -> slimeRegistry(config, mainExperts, mtpExperts, options.vocabPadding());
    };
  }

  private static MappingRegistry megatronBridgeRegistry(Qwen35Config config, ExpertStorage mainExperts,
      ExpertStorage mtpExperts) {
    List<ParamMapping> rows = new ArrayList<>();
    TextConfig text = config.text();
    Prefixes prefixes = Prefixes.of(config.visionLanguage());
    String ld = prefixes.megatron() + "decoder.layers.*.";
    String hl = prefixes.hfLanguage() + "layers.*.";
    String embedding = prefixes.megatron() + "embedding.word_embeddings.weight";
    String output = prefixes.megatron() + "output_layer.weight";
    String finalNorm = prefixes.megatron() + "decoder.final_layernorm.weight";
    if (config.moe()) {
      // Registry order of docs/mappings.md §4.9, MoE: LM plain rows, then the special transforms, experts,
      // shared experts.
      rows.add(new ColumnMapping(embedding, prefixes.hfLanguage() + "embed_tokens.weight"));
      rows.add(new ColumnMapping(output, "lm_head.weight"));
      rows.add(new ReplicatedMapping(finalNorm, prefixes.hfLanguage() + "norm.weight"));
      rows.add(new ReplicatedMapping(ld + "mlp.router.weight", hl + "mlp.gate.weight"));
      rows.add(new ReplicatedMapping(ld + "pre_mlp_layernorm.weight", hl + "post_attention_layernorm.weight"));
      addAttentionAutoRows(rows, ld, hl);
      addGdnAutoRows(rows, ld, hl);
      addAttentionQkv(rows, ld, hl, text);
      addGdnSpecialRows(rows, ld, hl, text);
      addRoutedExperts(rows, ld, hl, mainExperts, true);
      addSharedExperts(rows, ld, hl);
    } else {
      // Registry order of docs/mappings.md §4.9, dense: LM plain rows (output layer last), then QKV, fc1,
      // GDN special rows.
      rows.add(new ColumnMapping(embedding, prefixes.hfLanguage() + "embed_tokens.weight"));
      rows.add(new ReplicatedMapping(finalNorm, prefixes.hfLanguage() + "norm.weight"));
      rows.add(new ReplicatedMapping(ld + "mlp.linear_fc1.layer_norm_weight", hl + "post_attention_layernorm.weight"));
      rows.add(new RowMapping(ld + "mlp.linear_fc2.weight", hl + "mlp.down_proj.weight"));
      addAttentionAutoRows(rows, ld, hl);
      addGdnAutoRows(rows, ld, hl);
      rows.add(new ColumnMapping(output, "lm_head.weight"));
      addAttentionQkv(rows, ld, hl, text);
      rows.add(new GatedMlpMapping(ld + "mlp.linear_fc1.weight", hl + "mlp.gate_proj.weight", hl + "mlp.up_proj.weight"));
      addGdnSpecialRows(rows, ld, hl, text);
    }
    addMtpRows(rows, prefixes.megatronMtp(), config, mtpExperts);
    config.vision().ifPresent(vision -> addVisionRows(rows, vision));
    if (config.moe()) {
      addMtpSequentialExperts(rows, prefixes.megatronMtp(), mtpExperts);
    }
    return MappingRegistry.of(rows).withAliases(SEPARATE_LAYERNORM_ALIASES).withAliases(MTP_LEGACY_ALIAS);
  }

  /**
   * slime's native model (docs/mappings.md §5): the Megatron-Bridge rows for embedding, output layer, final norm,
   * full attention, MLP, MoE and MTP, with the vocabulary padded (docs/mappings.md §5.2); the Gated DeltaNet as its
   * ten HF tensors under {@code self_attention.}, copied and replicated, and the vision tower under its HF names,
   * copied and replicated (both docs/mappings.md §5.1). The slime MTP inner name {@code transformer_layer} comes
   * from the alias rule.
   */
  private static MappingRegistry slimeRegistry(Qwen35Config config, ExpertStorage mainExperts,
      ExpertStorage mtpExperts, VocabPadding padding) {
    List<ParamMapping> rows = new ArrayList<>();
    TextConfig text = config.text();
    Prefixes prefixes = Prefixes.of(config.visionLanguage());
    String ld = prefixes.megatron() + "decoder.layers.*.";
    String hl = prefixes.hfLanguage() + "layers.*.";
    long vocab = text.vocabSize();
    rows.add(new PaddedVocabMapping(prefixes.megatron() + "embedding.word_embeddings.weight",
        prefixes.hfLanguage() + "embed_tokens.weight", vocab, padding));
    rows.add(new PaddedVocabMapping(prefixes.megatron() + "output_layer.weight", "lm_head.weight", vocab, padding));
    rows.add(new ReplicatedMapping(prefixes.megatron() + "decoder.final_layernorm.weight",
        prefixes.hfLanguage() + "norm.weight"));
    // docs/mappings.md §5.1, GDN row: the input norm and the nine linear_attn tensors.
    rows.add(new ReplicatedMapping(ld + "self_attention.input_layernorm.weight", hl + "input_layernorm.weight"));
    for (String tensor : SLIME_GDN_TENSORS) {
      rows.add(new ReplicatedMapping(ld + "self_attention.linear_attn." + tensor, hl + "linear_attn." + tensor));
    }
    addAttentionAutoRows(rows, ld, hl);
    addAttentionQkv(rows, ld, hl, text);
    if (config.moe()) {
      rows.add(new ReplicatedMapping(ld + "mlp.router.weight", hl + "mlp.gate.weight"));
      rows.add(new ReplicatedMapping(ld + "pre_mlp_layernorm.weight", hl + "post_attention_layernorm.weight"));
      addRoutedExperts(rows, ld, hl, mainExperts, true);
      addSharedExperts(rows, ld, hl);
    } else {
      rows.add(new ReplicatedMapping(ld + "mlp.linear_fc1.layer_norm_weight", hl + "post_attention_layernorm.weight"));
      rows.add(new GatedMlpMapping(ld + "mlp.linear_fc1.weight", hl + "mlp.gate_proj.weight", hl + "mlp.up_proj.weight"));
      rows.add(new RowMapping(ld + "mlp.linear_fc2.weight", hl + "mlp.down_proj.weight"));
    }
    addMtpRows(rows, prefixes.megatronMtp(), config, mtpExperts);
    if (config.vision().isPresent()) {
      rows.add(new ReplicatedMapping(SLIME_VISION_PREFIX + "**", SLIME_VISION_PREFIX + "**"));
    }
    if (config.moe()) {
      addMtpSequentialExperts(rows, prefixes.megatronMtp(), mtpExperts);
    }
    return MappingRegistry.of(rows).withAliases(SEPARATE_LAYERNORM_ALIASES).withAliases(MTP_LEGACY_ALIAS);
  }

  /** docs/mappings.md §4.3, language model table: the full-attention rows except the fused QKV. */
  private static void addAttentionAutoRows(List<ParamMapping> rows, String ld, String hl) {
    rows.add(new ReplicatedMapping(ld + "self_attention.linear_qkv.layer_norm_weight", hl + "input_layernorm.weight"));
    rows.add(new ReplicatedMapping(ld + "self_attention.q_layernorm.weight", hl + "self_attn.q_norm.weight"));
    rows.add(new ReplicatedMapping(ld + "self_attention.k_layernorm.weight", hl + "self_attn.k_norm.weight"));
    rows.add(new RowMapping(ld + "self_attention.linear_proj.weight", hl + "self_attn.o_proj.weight"));
  }

  /**
   * docs/mappings.md §4.4, GDN table: input norm, out_proj, A_log, dt_bias (the last two column-split: Megatron-Bridge
   * registers GatedDeltaNet as a column-parallel module).
   */
  private static void addGdnAutoRows(List<ParamMapping> rows, String ld, String hl) {
    rows.add(new ReplicatedMapping(ld + "self_attention.in_proj.layer_norm_weight", hl + "input_layernorm.weight"));
    rows.add(new RowMapping(ld + "self_attention.out_proj.weight", hl + "linear_attn.out_proj.weight"));
    rows.add(new ColumnMapping(ld + "self_attention.A_log", hl + "linear_attn.A_log"));
    rows.add(new ColumnMapping(ld + "self_attention.dt_bias", hl + "linear_attn.dt_bias"));
  }

  /** docs/mappings.md §4.3, language model table: the fused QKV row. */
  private static void addAttentionQkv(List<ParamMapping> rows, String ld, String hl, TextConfig text) {
    rows.add(new GatedQkvMapping(ld + "self_attention.linear_qkv.weight", hl + "self_attn.q_proj.weight",
        hl + "self_attn.k_proj.weight", hl + "self_attn.v_proj.weight", text.numAttentionHeads(),
        text.numKeyValueHeads(), text.headDim()));
  }

  /** docs/mappings.md §4.4, GDN table: conv1d, in_proj, out_norm. */
  private static void addGdnSpecialRows(List<ParamMapping> rows, String ld, String hl, TextConfig text) {
    GdnHeads heads = new GdnHeads(text.linearNumKeyHeads(), text.linearNumValueHeads(), text.linearKeyHeadDim(),
        text.linearValueHeadDim());
    rows.add(new GdnConv1dMapping(ld + "self_attention.conv1d.weight", hl + "linear_attn.conv1d.weight", heads));
    rows.add(new GdnInProjMapping(ld + "self_attention.in_proj.weight", hl + "linear_attn.in_proj_qkv.weight",
        hl + "linear_attn.in_proj_z.weight", hl + "linear_attn.in_proj_b.weight", hl + "linear_attn.in_proj_a.weight",
        heads));
    rows.add(new ZeroCenteredNormMapping(ld + "self_attention.out_norm.weight", hl + "linear_attn.norm.weight"));
  }

  /**
   * docs/mappings.md §4.6, MoE table, routed experts: grouped fc1, grouped fc2, then (main decoder only)
   * SequentialMLP fc1, fc2.
   */
  private static void addRoutedExperts(List<ParamMapping> rows, String prefix, String hl, ExpertStorage storage,
      boolean withSequential) {
    String groupedFc1 = prefix + "mlp.experts.linear_fc1.weight*";
    String groupedFc2 = prefix + "mlp.experts.linear_fc2.weight*";
    String sequentialFc1 = prefix + "mlp.experts.local_experts.*.linear_fc1.weight";
    String sequentialFc2 = prefix + "mlp.experts.local_experts.*.linear_fc2.weight";
    List<String> fc1 = withSequential ? List.of(groupedFc1, sequentialFc1) : List.of(groupedFc1);
    List<String> fc2 = withSequential ? List.of(groupedFc2, sequentialFc2) : List.of(groupedFc2);
    for (int index = 0; index < fc1.size(); index++) {
      switch (storage) {
        case PACKED -> {
          rows.add(new PackedExpertMapping(fc1.get(index), hl + "mlp.experts.gate_up_proj", Projection.GATE_UP));
          rows.add(new PackedExpertMapping(fc2.get(index), hl + "mlp.experts.down_proj", Projection.DOWN));
        }
        case PER_EXPERT -> {
          rows.add(new GatedMlpMapping(fc1.get(index), hl + "mlp.experts.*.gate_proj.weight",
              hl + "mlp.experts.*.up_proj.weight"));
          rows.add(new RowMapping(fc2.get(index), hl + "mlp.experts.*.down_proj.weight"));
        }
      }
    }
  }

  /** docs/mappings.md §4.6, MoE table: shared expert rows. */
  private static void addSharedExperts(List<ParamMapping> rows, String prefix, String hl) {
    rows.add(new GatedMlpMapping(prefix + "mlp.shared_experts.linear_fc1.weight",
        hl + "mlp.shared_expert.gate_proj.weight", hl + "mlp.shared_expert.up_proj.weight"));
    rows.add(new RowMapping(prefix + "mlp.shared_experts.linear_fc2.weight", hl + "mlp.shared_expert.down_proj.weight"));
    rows.add(new ReplicatedMapping(prefix + "mlp.shared_experts.gate_weight", hl + "mlp.shared_expert_gate.weight"));
  }

  /**
   * docs/mappings.md §4.7, MTP table, with the current inner name {@code mtp_model_layer} ("0" rows literal 0,
   * "*" rows wildcard). MTP experts follow the checkpoint's MTP storage. Beyond Megatron-Bridge's rows, MoE models
   * also get SequentialMLP rows for MTP experts (appended after the vision rows), so a SequentialMLP Megatron model is
   * fully mapped instead of silently losing its MTP experts.
   */
  private static void addMtpRows(List<ParamMapping> rows, String mt, Qwen35Config config, ExpertStorage mtpExperts) {
    TextConfig text = config.text();
    String layer0 = mt + ".0.";
    String inner0 = layer0 + "mtp_model_layer.";
    String innerW = mt + ".*.mtp_model_layer.";
    rows.add(new ColumnMapping(layer0 + "eh_proj.weight", "mtp.fc.weight"));
    rows.add(new ReplicatedMapping(layer0 + "enorm.weight", "mtp.pre_fc_norm_embedding.weight"));
    rows.add(new ReplicatedMapping(layer0 + "hnorm.weight", "mtp.pre_fc_norm_hidden.weight"));
    rows.add(new ReplicatedMapping(layer0 + "final_layernorm.weight", "mtp.norm.weight"));
    if (config.moe()) {
      rows.add(new ReplicatedMapping(inner0 + "mlp.router.weight", "mtp.layers.0.mlp.gate.weight"));
      rows.add(new ReplicatedMapping(inner0 + "pre_mlp_layernorm.weight", "mtp.layers.0.post_attention_layernorm.weight"));
    }
    rows.add(new ReplicatedMapping(inner0 + "self_attention.linear_qkv.layer_norm_weight",
        "mtp.layers.0.input_layernorm.weight"));
    rows.add(new ReplicatedMapping(inner0 + "self_attention.q_layernorm.weight", "mtp.layers.0.self_attn.q_norm.weight"));
    rows.add(new ReplicatedMapping(inner0 + "self_attention.k_layernorm.weight", "mtp.layers.0.self_attn.k_norm.weight"));
    rows.add(new RowMapping(inner0 + "self_attention.linear_proj.weight", "mtp.layers.0.self_attn.o_proj.weight"));
    if (!config.moe()) {
      rows.add(new ReplicatedMapping(inner0 + "mlp.linear_fc1.layer_norm_weight",
          "mtp.layers.0.post_attention_layernorm.weight"));
      rows.add(new RowMapping(inner0 + "mlp.linear_fc2.weight", "mtp.layers.0.mlp.down_proj.weight"));
    }
    rows.add(new GatedQkvMapping(innerW + "self_attention.linear_qkv.weight", "mtp.layers.*.self_attn.q_proj.weight",
        "mtp.layers.*.self_attn.k_proj.weight", "mtp.layers.*.self_attn.v_proj.weight", text.numAttentionHeads(),
        text.numKeyValueHeads(), text.headDim()));
    if (config.moe()) {
      rows.add(new GatedMlpMapping(innerW + "mlp.shared_experts.linear_fc1.weight",
          "mtp.layers.*.mlp.shared_expert.gate_proj.weight", "mtp.layers.*.mlp.shared_expert.up_proj.weight"));
      rows.add(new RowMapping(innerW + "mlp.shared_experts.linear_fc2.weight",
          "mtp.layers.*.mlp.shared_expert.down_proj.weight"));
      rows.add(new ReplicatedMapping(inner0 + "mlp.shared_experts.gate_weight",
          "mtp.layers.0.mlp.shared_expert_gate.weight"));
      addRoutedExperts(rows, innerW, "mtp.layers.*.", mtpExperts, false);
    } else {
      rows.add(new GatedMlpMapping(inner0 + "mlp.linear_fc1.weight", "mtp.layers.0.mlp.gate_proj.weight",
          "mtp.layers.0.mlp.up_proj.weight"));
    }
  }

  /**
   * megabridge extension (not in Megatron-Bridge; docs/mappings.md §4.7): SequentialMLP names for MTP experts,
   * lowest priority.
   */
  private static void addMtpSequentialExperts(List<ParamMapping> rows, String mt, ExpertStorage storage) {
    String innerW = mt + ".*.mtp_model_layer.";
    String fc1 = innerW + "mlp.experts.local_experts.*.linear_fc1.weight";
    String fc2 = innerW + "mlp.experts.local_experts.*.linear_fc2.weight";
    switch (storage) {
      case PACKED -> {
        rows.add(new PackedExpertMapping(fc1, "mtp.layers.*.mlp.experts.gate_up_proj", Projection.GATE_UP));
        rows.add(new PackedExpertMapping(fc2, "mtp.layers.*.mlp.experts.down_proj", Projection.DOWN));
      }
      case PER_EXPERT -> {
        rows.add(new GatedMlpMapping(fc1, "mtp.layers.*.mlp.experts.*.gate_proj.weight",
            "mtp.layers.*.mlp.experts.*.up_proj.weight"));
        rows.add(new RowMapping(fc2, "mtp.layers.*.mlp.experts.*.down_proj.weight"));
      }
    }
  }

  /**
   * docs/mappings.md §4.8, vision table (15 plain rows, concatenated QKV weight and bias, replicated patch/pos
   * embeddings).
   */
  private static void addVisionRows(List<ParamMapping> rows, VisionConfig vision) {
    String vd = "vision_model.decoder.layers.*.";
    String hv = "model.visual.blocks.*.";
    rows.add(new RowMapping(vd + "self_attention.linear_proj.weight", hv + "attn.proj.weight"));
    rows.add(new RowMapping(vd + "self_attention.linear_proj.bias", hv + "attn.proj.bias"));
    rows.add(new ColumnMapping(vd + "mlp.linear_fc1.weight", hv + "mlp.linear_fc1.weight"));
    rows.add(new ColumnMapping(vd + "mlp.linear_fc1.bias", hv + "mlp.linear_fc1.bias"));
    rows.add(new RowMapping(vd + "mlp.linear_fc2.weight", hv + "mlp.linear_fc2.weight"));
    rows.add(new RowMapping(vd + "mlp.linear_fc2.bias", hv + "mlp.linear_fc2.bias"));
    rows.add(new ReplicatedMapping(vd + "self_attention.linear_qkv.layer_norm_weight", hv + "norm1.weight"));
    rows.add(new ReplicatedMapping(vd + "self_attention.linear_qkv.layer_norm_bias", hv + "norm1.bias"));
    rows.add(new ReplicatedMapping(vd + "mlp.linear_fc1.layer_norm_weight", hv + "norm2.weight"));
    rows.add(new ReplicatedMapping(vd + "mlp.linear_fc1.layer_norm_bias", hv + "norm2.bias"));
    rows.add(new ReplicatedMapping("vision_model.merger.patch_norm.**", "model.visual.merger.norm.**"));
    rows.add(new ColumnMapping("vision_model.merger.linear_fc1.weight", "model.visual.merger.linear_fc1.weight"));
    rows.add(new ColumnMapping("vision_model.merger.linear_fc1.bias", "model.visual.merger.linear_fc1.bias"));
    rows.add(new RowMapping("vision_model.merger.linear_fc2.weight", "model.visual.merger.linear_fc2.weight"));
    rows.add(new RowMapping("vision_model.merger.linear_fc2.bias", "model.visual.merger.linear_fc2.bias"));
    rows.add(new VisionQkvMapping(vd + "self_attention.linear_qkv.weight", hv + "attn.qkv.weight", vision.numHeads(),
        vision.headDim()));
    rows.add(new VisionQkvMapping(vd + "self_attention.linear_qkv.bias", hv + "attn.qkv.bias", vision.numHeads(),
        vision.headDim()));
    rows.add(new ReplicatedMapping("vision_model.patch_embed.proj.**", "model.visual.patch_embed.proj.**"));
    rows.add(new ReplicatedMapping("vision_model.pos_embed.weight", "model.visual.pos_embed.weight"));
  }
}
