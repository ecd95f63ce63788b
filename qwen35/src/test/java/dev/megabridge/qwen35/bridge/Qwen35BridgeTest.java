package dev.megabridge.qwen35.bridge;

import static dev.megabridge.qwen35.bridge.TestCheckpoints.textConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.convert.HfTensorInfo;
import dev.megabridge.core.convert.ShardPlan;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.error.UnsupportedModelException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.mapping.PackedExpertMapping.Projection;
import dev.megabridge.core.mapping.PackedExpertMapping;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeRegistry;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.spi.ModelBridge;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.Qwen35BridgeModel;
import dev.megabridge.qwen35.Qwen35MappingTables.ExpertStorage;
import dev.megabridge.qwen35.Qwen35MappingTables;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Discovery, dispatch, layout detection, MTP inference, legacy MTP alias and tie rules (spec §1, §4.4–§4.5). */
class Qwen35BridgeTest {

  private static final AutoBridge AUTO = AutoBridge.discover();

  @TempDir
  Path temp;

  private static Qwen35BridgeModel bind(Path folder) {
    return (Qwen35BridgeModel) AUTO.fromHfPretrained(folder, BridgeOptions.defaults());
  }

  private static Qwen35BridgeModel bindNames(Path configFolder, Set<String> names) {
    return (Qwen35BridgeModel) AUTO.fromConfig(dev.megabridge.core.config.HfConfig.load(configFolder), Optional.of(names),
        BridgeOptions.defaults());
  }

  private static Set<String> names(Path folder) {
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(folder)) {
      return new LinkedHashSet<>(checkpoint.names());
    }
  }

  // ---- discovery and dispatch --------------------------------------------------------------------------------

  @Test
  void serviceLoaderFindsTheFourQwen35Bridges() {
    BridgeRegistry registry = BridgeRegistry.discover();
    assertThat(registry.supportedArchitectures()).containsExactly("Qwen3_5ForCausalLM",
        "Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForCausalLM", "Qwen3_5MoeForConditionalGeneration");
    Map<String, String> names = new LinkedHashMap<>();
    for (String architecture : registry.supportedArchitectures()) {
      names.put(architecture, registry.forArchitecture(architecture).map(ModelBridge::name).orElseThrow());
    }
    assertThat(names).containsExactly(Map.entry("Qwen3_5ForCausalLM", "Qwen35Bridge"),
        Map.entry("Qwen3_5ForConditionalGeneration", "Qwen35VLBridge"),
        Map.entry("Qwen3_5MoeForCausalLM", "Qwen35MoEBridge"),
        Map.entry("Qwen3_5MoeForConditionalGeneration", "Qwen35VLMoEBridge"));
  }

  @Test
  void realConfigsDispatchByArchitecture() {
    assertThat(bind(Fixtures.realConfig("Qwen3.5-9B")).bridge().name()).isEqualTo("Qwen35VLBridge");
    assertThat(bind(Fixtures.realConfig("Qwen3.5-27B")).bridge().name()).isEqualTo("Qwen35VLBridge");
    assertThat(bind(Fixtures.realConfig("Qwen3.5-35B-A3B")).bridge().name()).isEqualTo("Qwen35VLMoEBridge");
    assertThat(AUTO.canHandle(Fixtures.realConfig("Qwen3.5-9B"))).isTrue();
    assertThat(AUTO.canHandle(Fixtures.tiny("qwen35_moe_vl_packed_bf16"))).isTrue();
  }

  @Test
  void unsupportedArchitectureListsTheSupportedOnes() {
    Path folder = TestCheckpoints.writeConfig(Fixtures.realConfig("Qwen3.5-9B"), temp.resolve("other"),
        config -> config.putArray("architectures").add("Qwen3_5Model").add("Qwen3_6ForCausalLM"));
    assertThat(AUTO.canHandle(folder)).isFalse();
    assertThatThrownBy(() -> bind(folder)).isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining("Qwen3_6ForCausalLM").hasMessageContaining("Qwen3_5ForConditionalGeneration")
        .hasMessageContaining("Qwen3_5MoeForConditionalGeneration");
    // model_type says MoE, architectures says dense: the architecture decides.
    Path dense = TestCheckpoints.writeConfig(Fixtures.realConfig("Qwen3.5-9B"), temp.resolve("mt"),
        config -> config.put("model_type", "qwen3_5_moe"));
    assertThat(bind(dense).bridge().name()).isEqualTo("Qwen35VLBridge");
  }

  @Test
  void configOnlyFolderWorksForProviderAndPlan() {
    Path folder = TestCheckpoints.writeConfig(Fixtures.tiny("qwen35_moe_vl"), temp.resolve("cfg"), config -> { });
    Qwen35BridgeModel model = bind(folder);
    assertThat(model.provider()).containsEntry("num_moe_experts", 8);
    assertThat(model.mainExpertStorage()).isEqualTo(ExpertStorage.PER_EXPERT);
    Map<String, HfTensorInfo> infos = new LinkedHashMap<>();
    for (HfTensorSpec spec : model.hfTensors()) {
      infos.put(spec.name(), new HfTensorInfo(spec.name(), DType.BF16, spec.shape(), "none"));
    }
    ShardPlan plan = ShardPlan.build(model, ParallelLayout.of(2, 2, 1, 2, 1), infos);
    assertThat(plan.ranks()).hasSize(8);
    assertThat(plan.ownedParams()).hasSize(model.megatronParams(ParallelLayout.of(2, 2, 1, 2, 1)).size() - 1);
  }

  // ---- registry order (spec §4.7) ------------------------------------------------------------------------

  private static List<String> rows(BridgeModel model) {
    return model.registry().mappings().stream().map(m -> m.kind().replace("Mapping", "") + " " + m.megatronParam())
        .toList();
  }

  private static final String LD = "language_model.decoder.layers.*.";
  private static final String MT = "language_model.mtp.layers.";
  private static final String VD = "vision_model.decoder.layers.*.";

  private static List<String> visionRows() {
    return List.of("Row " + VD + "self_attention.linear_proj.weight", "Row " + VD + "self_attention.linear_proj.bias",
        "Column " + VD + "mlp.linear_fc1.weight", "Column " + VD + "mlp.linear_fc1.bias",
        "Row " + VD + "mlp.linear_fc2.weight", "Row " + VD + "mlp.linear_fc2.bias",
        "Replicated " + VD + "self_attention.linear_qkv.layer_norm_weight",
        "Replicated " + VD + "self_attention.linear_qkv.layer_norm_bias",
        "Replicated " + VD + "mlp.linear_fc1.layer_norm_weight", "Replicated " + VD + "mlp.linear_fc1.layer_norm_bias",
        "Replicated vision_model.merger.patch_norm.**", "Column vision_model.merger.linear_fc1.weight",
        "Column vision_model.merger.linear_fc1.bias", "Row vision_model.merger.linear_fc2.weight",
        "Row vision_model.merger.linear_fc2.bias", "VisionQkv " + VD + "self_attention.linear_qkv.weight",
        "VisionQkv " + VD + "self_attention.linear_qkv.bias", "Replicated vision_model.patch_embed.proj.**",
        "Replicated vision_model.pos_embed.weight");
  }

  private static List<String> visionAliases() {
    return List.of("Replicated " + VD + "input_layernorm.weight", "Replicated " + VD + "input_layernorm.bias",
        "Replicated " + VD + "pre_mlp_layernorm.weight", "Replicated " + VD + "pre_mlp_layernorm.bias");
  }

  /** The spec rows, then the copies with the legacy inner name for every row naming mtp_model_layer. */
  private static List<String> withLegacyCopies(List<String> rows) {
    List<String> out = new java.util.ArrayList<>(rows);
    rows.stream().filter(row -> row.contains(".mtp_model_layer."))
        .forEach(row -> out.add(row.replace(".mtp_model_layer.", ".transformer_layer.")));
    return out;
  }

  @Test
  void moeRegistryRowsFollowSpecOrder() {
    String inner0 = MT + "0.mtp_model_layer.";
    String innerW = MT + "*.mtp_model_layer.";
    List<String> expected = new java.util.ArrayList<>(List.of(
        "Column language_model.embedding.word_embeddings.weight", "Column language_model.output_layer.weight",
        "Replicated language_model.decoder.final_layernorm.weight", "Replicated " + LD + "mlp.router.weight",
        "Replicated " + LD + "pre_mlp_layernorm.weight", "Replicated " + LD + "self_attention.linear_qkv.layer_norm_weight",
        "Replicated " + LD + "self_attention.q_layernorm.weight", "Replicated " + LD + "self_attention.k_layernorm.weight",
        "Row " + LD + "self_attention.linear_proj.weight", "Replicated " + LD + "self_attention.in_proj.layer_norm_weight",
        "Row " + LD + "self_attention.out_proj.weight", "Column " + LD + "self_attention.A_log",
        "Column " + LD + "self_attention.dt_bias", "GatedQkv " + LD + "self_attention.linear_qkv.weight",
        "GdnConv1d " + LD + "self_attention.conv1d.weight", "GdnInProj " + LD + "self_attention.in_proj.weight",
        "ZeroCenteredNorm " + LD + "self_attention.out_norm.weight",
        "PackedExpert(GATE_UP) " + LD + "mlp.experts.linear_fc1.weight*", "PackedExpert(DOWN) " + LD + "mlp.experts.linear_fc2.weight*",
        "PackedExpert(GATE_UP) " + LD + "mlp.experts.local_experts.*.linear_fc1.weight",
        "PackedExpert(DOWN) " + LD + "mlp.experts.local_experts.*.linear_fc2.weight",
        "GatedMlp " + LD + "mlp.shared_experts.linear_fc1.weight", "Row " + LD + "mlp.shared_experts.linear_fc2.weight",
        "Replicated " + LD + "mlp.shared_experts.gate_weight",
        "Column " + MT + "0.eh_proj.weight", "Replicated " + MT + "0.enorm.weight", "Replicated " + MT + "0.hnorm.weight",
        "Replicated " + MT + "0.final_layernorm.weight", "Replicated " + inner0 + "mlp.router.weight",
        "Replicated " + inner0 + "pre_mlp_layernorm.weight",
        "Replicated " + inner0 + "self_attention.linear_qkv.layer_norm_weight",
        "Replicated " + inner0 + "self_attention.q_layernorm.weight",
        "Replicated " + inner0 + "self_attention.k_layernorm.weight", "Row " + inner0 + "self_attention.linear_proj.weight",
        "GatedQkv " + innerW + "self_attention.linear_qkv.weight", "GatedMlp " + innerW + "mlp.shared_experts.linear_fc1.weight",
        "Row " + innerW + "mlp.shared_experts.linear_fc2.weight", "Replicated " + inner0 + "mlp.shared_experts.gate_weight",
        "GatedMlp " + innerW + "mlp.experts.linear_fc1.weight*", "Row " + innerW + "mlp.experts.linear_fc2.weight*"));
    expected.addAll(visionRows());
    // megabridge extension after the spec rows: SequentialMLP names for MTP experts.
    expected.add("GatedMlp " + innerW + "mlp.experts.local_experts.*.linear_fc1.weight");
    expected.add("Row " + innerW + "mlp.experts.local_experts.*.linear_fc2.weight");
    expected.add("Replicated " + LD + "input_layernorm.weight");
    expected.addAll(visionAliases());
    assertThat(rows(bind(Fixtures.tiny("qwen35_moe_vl_packed_bf16")))).containsExactlyElementsOf(
        withLegacyCopies(expected));
  }

  @Test
  void denseRegistryRowsFollowSpecOrder() {
    String inner0 = MT + "0.mtp_model_layer.";
    List<String> expected = new java.util.ArrayList<>(List.of(
        "Column language_model.embedding.word_embeddings.weight",
        "Replicated language_model.decoder.final_layernorm.weight",
        "Replicated " + LD + "mlp.linear_fc1.layer_norm_weight", "Row " + LD + "mlp.linear_fc2.weight",
        "Replicated " + LD + "self_attention.linear_qkv.layer_norm_weight",
        "Replicated " + LD + "self_attention.q_layernorm.weight", "Replicated " + LD + "self_attention.k_layernorm.weight",
        "Row " + LD + "self_attention.linear_proj.weight", "Replicated " + LD + "self_attention.in_proj.layer_norm_weight",
        "Row " + LD + "self_attention.out_proj.weight", "Column " + LD + "self_attention.A_log",
        "Column " + LD + "self_attention.dt_bias", "Column language_model.output_layer.weight",
        "GatedQkv " + LD + "self_attention.linear_qkv.weight", "GatedMlp " + LD + "mlp.linear_fc1.weight",
        "GdnConv1d " + LD + "self_attention.conv1d.weight", "GdnInProj " + LD + "self_attention.in_proj.weight",
        "ZeroCenteredNorm " + LD + "self_attention.out_norm.weight",
        "Column " + MT + "0.eh_proj.weight", "Replicated " + MT + "0.enorm.weight", "Replicated " + MT + "0.hnorm.weight",
        "Replicated " + MT + "0.final_layernorm.weight",
        "Replicated " + inner0 + "self_attention.linear_qkv.layer_norm_weight",
        "Replicated " + inner0 + "self_attention.q_layernorm.weight",
        "Replicated " + inner0 + "self_attention.k_layernorm.weight", "Row " + inner0 + "self_attention.linear_proj.weight",
        "Replicated " + inner0 + "mlp.linear_fc1.layer_norm_weight", "Row " + inner0 + "mlp.linear_fc2.weight",
        "GatedQkv " + MT + "*.mtp_model_layer.self_attention.linear_qkv.weight",
        "GatedMlp " + inner0 + "mlp.linear_fc1.weight"));
    expected.addAll(visionRows());
    expected.add("Replicated " + LD + "pre_mlp_layernorm.weight");
    expected.add("Replicated " + LD + "input_layernorm.weight");
    expected.addAll(visionAliases());
    assertThat(rows(bind(Fixtures.realConfig("Qwen3.5-27B")))).containsExactlyElementsOf(withLegacyCopies(expected));
    assertThat(rows(bind(Fixtures.realConfig("Qwen3.5-27B")))).noneMatch(row -> row.contains("router")
        || row.contains("experts"));
  }

  // ---- expert storage detection (spec §4.4) --------------------------------------------------------------

  @Test
  void expertStorageIsDetectedFromTensorNames() {
    Qwen35BridgeModel perExpert = bind(Fixtures.tiny("qwen35_moe_vl_bf16"));
    assertThat(perExpert.mainExpertStorage()).isEqualTo(ExpertStorage.PER_EXPERT);
    assertThat(perExpert.mtpExpertStorage()).isEqualTo(ExpertStorage.PER_EXPERT);
    Qwen35BridgeModel packed = bind(Fixtures.tiny("qwen35_moe_vl_packed_bf16"));
    assertThat(packed.mainExpertStorage()).isEqualTo(ExpertStorage.PACKED);
    assertThat(packed.mtpExpertStorage()).isEqualTo(ExpertStorage.PER_EXPERT);
    ParamMapping fc1 = packed.registry().megatronToHf("language_model.decoder.layers.2.mlp.experts.linear_fc1.weight5")
        .orElseThrow();
    assertThat(fc1.hfParams()).containsExactly(Map.entry(ParamMapping.TENSOR,
        "model.language_model.layers.2.mlp.experts.gate_up_proj"));
  }

  @Test
  void mixedMainDecoderLayoutIsAnError() {
    Path mixed = TestCheckpoints.rewrite(Fixtures.tiny("qwen35_moe_vl_packed_bf16"), temp.resolve("mixed"),
        config -> { }, tensors -> tensors.put("model.language_model.layers.1.mlp.experts.0.gate_proj.weight",
            tensors.get("model.language_model.layers.1.mlp.shared_expert.gate_proj.weight")));
    assertThatThrownBy(() -> bind(mixed)).isInstanceOf(ConfigException.class).hasMessageContaining("mixes")
        .hasMessageContaining("model.language_model.layers.1.mlp.experts.0.gate_proj.weight")
        .hasMessageContaining("main decoder");
  }

  private static Set<String> withPackedMtp(Set<String> names) {
    Set<String> out = names.stream().filter(name -> !name.matches("mtp\\.layers\\.0\\.mlp\\.experts\\.\\d+\\..*"))
        .collect(Collectors.toCollection(LinkedHashSet::new));
    out.add("mtp.layers.0.mlp.experts.gate_up_proj");
    out.add("mtp.layers.0.mlp.experts.down_proj");
    return out;
  }

  @Test
  void packedMtpExpertsAreDetected() {
    Path folder = Fixtures.tiny("qwen35_moe_vl_packed_bf16");
    Qwen35BridgeModel model = bindNames(folder, withPackedMtp(names(folder)));
    assertThat(model.mtpExpertStorage()).isEqualTo(ExpertStorage.PACKED);
    List<ParamMapping> rows = model.registry().mappings();
    assertThat(rows).anyMatch(row -> row.hfParams().containsValue("mtp.layers.*.mlp.experts.gate_up_proj")
        && row instanceof PackedExpertMapping packed && packed.projection() == Projection.GATE_UP);
    assertThat(rows).noneMatch(row -> row.hfParams().containsValue("mtp.layers.*.mlp.experts.*.gate_proj.weight"));
    ParamMapping legacy = model.registry()
        .megatronToHf("language_model.mtp.layers.0.transformer_layer.mlp.experts.linear_fc1.weight7").orElseThrow();
    assertThat(legacy.hfParams()).containsEntry(ParamMapping.TENSOR, "mtp.layers.0.mlp.experts.gate_up_proj");
    Set<String> mixedMtp = withPackedMtp(names(folder));
    mixedMtp.add("mtp.layers.0.mlp.experts.3.down_proj.weight");
    assertThatThrownBy(() -> bindNames(folder, mixedMtp)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("MTP");
  }

  // ---- MTP layer count ------------------------------------------------------------------------------------

  @Test
  void mtpLayerCountIsInferredFromWeightsWhenTheConfigIsSilent() {
    Path config = TestCheckpoints.writeConfig(Fixtures.tiny("qwen35_dense_vl"), temp.resolve("nomtp"),
        root -> textConfig(root).remove("mtp_num_hidden_layers"));
    Set<String> names = names(Fixtures.tiny("qwen35_dense_vl"));
    Qwen35BridgeModel inferred = bindNames(config, names);
    assertThat(inferred.mtpLayers()).isEqualTo(1);
    assertThat(inferred.facts()).containsEntry("mtp_layers", 1);
    assertThat((String) inferred.facts().get("mtp_layers_from")).contains("inferred");
    assertThat(inferred.provider()).containsEntry("mtp_num_layers", 1);
    Set<String> two = new LinkedHashSet<>(names);
    two.add("mtp.layers.1.input_layernorm.weight");
    assertThat(bindNames(config, two).mtpLayers()).isEqualTo(2);
    Set<String> none = names.stream().filter(name -> !name.startsWith("mtp.")).collect(Collectors.toSet());
    assertThat(bindNames(config, none).mtpLayers()).isZero();
    assertThat(bind(config).mtpLayers()).as("config only").isZero();
    assertThat(bind(Fixtures.tiny("qwen35_dense_vl")).mtpLayers()).isEqualTo(1);
  }

  // ---- legacy MTP alias (spec §4.5) --------------------------------------------------------------------------

  @Test
  void legacyMtpNamesResolveLikeCurrentOnes() {
    for (String fixture : List.of("qwen35_dense_vl", "qwen35_moe_vl", "qwen35_moe_vl_packed_bf16")) {
      Qwen35BridgeModel model = bind(Fixtures.tiny(fixture));
      int checked = 0;
      for (MegatronParam param : model.megatronParams(ParallelLayout.single())) {
        if (!param.name().contains(".mtp_model_layer.")) {
          continue;
        }
        String legacy = param.name().replace(".mtp_model_layer.", ".transformer_layer.");
        ParamMapping current = model.registry().megatronToHf(param.name()).orElseThrow();
        ParamMapping old = model.registry().megatronToHf(legacy).orElseThrow(() -> new AssertionError(legacy));
        assertThat(old.getClass()).as(legacy).isEqualTo(current.getClass());
        assertThat(old.hfParams()).as(legacy).isEqualTo(current.hfParams());
        assertThat(old.megatronParam()).isEqualTo(legacy);
        checked++;
      }
      assertThat(checked).as(fixture).isGreaterThan(5);
      assertThat(model.registry().withAliases(Qwen35MappingTables.MTP_LEGACY_ALIAS).mappings())
          .isEqualTo(model.registry().mappings());
      for (String outer : List.of("eh_proj.weight", "enorm.weight", "hnorm.weight", "final_layernorm.weight")) {
        assertThat(model.registry().megatronToHf("language_model.mtp.layers.0." + outer)).isPresent();
        assertThat(model.registry().mappings()).noneMatch(row -> row.megatronParam().contains("transformer_layer." + outer)
            || row.megatronParam().contains("transformer_layer.transformer_layer"));
      }
    }
  }

  @Test
  void legacyNamingProducesLegacyParamNames() {
    BridgeModel model = AUTO.fromHfPretrained(Fixtures.tiny("qwen35_dense_vl"),
        new BridgeOptions(BridgeOptions.MtpNaming.LEGACY, BridgeOptions.ExpertNaming.GROUPED));
    List<String> names = model.megatronParams(ParallelLayout.single()).stream().map(MegatronParam::name).toList();
    assertThat(names).anyMatch(name -> name.contains("mtp.layers.0.transformer_layer.self_attention.linear_qkv.weight"))
        .noneMatch(name -> name.contains("mtp_model_layer")).contains("language_model.mtp.layers.0.eh_proj.weight");
  }

  // ---- tied embeddings ------------------------------------------------------------------------------------

  @Test
  void untiedConfigWithoutLmHeadIsAnError() {
    Path folder = TestCheckpoints.rewrite(Fixtures.tiny("qwen35_dense_vl"), temp.resolve("nohead"), config -> { },
        tensors -> tensors.remove("lm_head.weight"));
    assertThatThrownBy(() -> bind(folder)).isInstanceOf(ConfigException.class).hasMessageContaining("lm_head.weight")
        .hasMessageContaining("tie_word_embeddings");
  }

  @Test
  void tiedModelHasNoLmHeadAndAnOutputCopyOnlyWithPipelining() {
    Path tied = TestCheckpoints.rewrite(Fixtures.tiny("qwen35_dense_vl"), temp.resolve("tied"),
        config -> config.put("tie_word_embeddings", true), tensors -> tensors.remove("lm_head.weight"));
    Qwen35BridgeModel model = bind(tied);
    assertThat(model.tiedEmbeddings()).isTrue();
    assertThat(model.hfTensors()).noneMatch(spec -> spec.name().equals("lm_head.weight"));
    assertThat(model.megatronParams(ParallelLayout.single())).noneMatch(p -> p.name().contains("output_layer"));
    List<MegatronParam> copies = model.megatronParams(ParallelLayout.of(1, 2, 1, 1, 1)).stream()
        .filter(MegatronParam::copy).toList();
    assertThat(copies).extracting(MegatronParam::name).contains("language_model.output_layer.weight");
    assertThat(copies).filteredOn(p -> p.name().equals("language_model.output_layer.weight"))
        .extracting(MegatronParam::mappingName).containsExactly("language_model.embedding.word_embeddings.weight");
    // text_config's own (inherited) tie flag does not count for VL models: only the top-level one.
    Path textTied = TestCheckpoints.writeConfig(Fixtures.tiny("qwen35_dense_vl"), temp.resolve("texttied"),
        config -> textConfig(config).put("tie_word_embeddings", true));
    assertThat(bind(textTied).tiedEmbeddings()).isFalse();
    Path both = TestCheckpoints.rewrite(Fixtures.tiny("qwen35_dense_vl"), temp.resolve("both"),
        config -> config.put("tie_word_embeddings", true), tensors -> { });
    assertThatThrownBy(() -> bind(both)).isInstanceOf(ConfigException.class).hasMessageContaining("lm_head.weight");
  }
}
