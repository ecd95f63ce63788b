package dev.megabridge.qwen35.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.qwen35.Qwen35Config.LayerType;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.qwen35.Qwen35Config.VisionConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Qwen35Config} against qwen35-model-spec §1: the fixtures' diffed {@code config.json} and their
 * {@code config.full.json} agree; every field read from a full config equals the raw JSON value; the three
 * real configs carry the §1.5 values; missing keys take the §1.2/§1.3 defaults; bad values name their key.
 */
class Qwen35ConfigTest {

  private static final Path FILE = Path.of("config.json");

  private static Path fixtures() {
    String property = System.getProperty("megabridge.fixtures");
    assertThat(property).as("system property megabridge.fixtures").isNotNull();
    return Path.of(property);
  }

  private static HfConfig read(Path file) {
    try {
      return HfConfig.parse(file, Files.readString(file));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static Qwen35Config parse(HfConfig config) {
    return Qwen35Config.parse(config, config.architectures().getFirst());
  }

  /** Everything but the raw source. */
  private static List<Object> values(Qwen35Config config) {
    return List.of(config.architecture(), config.moe(), config.visionLanguage(), config.text(), config.vision(),
        config.tieWordEmbeddings(), config.imageTokenId(), config.videoTokenId(), config.visionStartTokenId(),
        config.visionEndTokenId(), config.declaredMtpLayers(), config.declaredDtype());
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl", "qwen35_dense_vl_bf16", "qwen35_dense_vl_bf16_sharded",
      "qwen35_moe_vl", "qwen35_moe_vl_bf16", "qwen35_moe_vl_packed_bf16"})
  void diffedAndFullConfigsOfEveryFixtureAgree(String model) {
    Path folder = fixtures().resolve("qwen35-tiny").resolve(model);
    Qwen35Config diffed = parse(read(folder.resolve("config.json")));
    HfConfig fullJson = read(folder.resolve("config.full.json"));
    Qwen35Config full = parse(fullJson);
    assertThat(values(diffed)).isEqualTo(values(full));
    assertMatchesRawJson(full, fullJson.raw());
    assertThat(full.moe()).isEqualTo(model.contains("moe"));
    assertThat(full.declaredDtype()).contains(model.contains("bf16") ? "bfloat16" : "float32");
  }

  /** Each parsed field against the value a plain JSON lookup gives (for configs that list every key). */
  private static void assertMatchesRawJson(Qwen35Config config, ObjectNode raw) {
    JsonNode text = raw.get("text_config");
    JsonNode vision = raw.get("vision_config");
    JsonNode rope = text.get("rope_parameters");
    TextConfig t = config.text();
    Map<String, Object> textFields = new java.util.LinkedHashMap<>();
    textFields.put("vocab_size", t.vocabSize());
    textFields.put("hidden_size", (long) t.hiddenSize());
    textFields.put("num_hidden_layers", (long) t.numHiddenLayers());
    textFields.put("num_attention_heads", (long) t.numAttentionHeads());
    textFields.put("num_key_value_heads", (long) t.numKeyValueHeads());
    textFields.put("head_dim", (long) t.headDim());
    textFields.put("max_position_embeddings", t.maxPositionEmbeddings());
    textFields.put("linear_conv_kernel_dim", (long) t.linearConvKernelDim());
    textFields.put("linear_key_head_dim", (long) t.linearKeyHeadDim());
    textFields.put("linear_value_head_dim", (long) t.linearValueHeadDim());
    textFields.put("linear_num_key_heads", (long) t.linearNumKeyHeads());
    textFields.put("linear_num_value_heads", (long) t.linearNumValueHeads());
    textFields.put("mtp_num_hidden_layers", (long) config.declaredMtpLayers());
    if (config.moe()) {
      textFields.put("num_experts", (long) t.numExperts());
      textFields.put("num_experts_per_tok", (long) t.numExpertsPerTok());
      textFields.put("moe_intermediate_size", (long) t.moeIntermediateSize());
      textFields.put("shared_expert_intermediate_size", (long) t.sharedExpertIntermediateSize());
    } else {
      textFields.put("intermediate_size", (long) t.intermediateSize());
    }
    textFields.forEach((key, value) -> assertThat(text.get(key).asLong()).as("text_config." + key).isEqualTo(value));
    assertThat(t.hiddenAct()).isEqualTo(text.get("hidden_act").textValue());
    assertThat(t.rmsNormEps()).isEqualTo(text.get("rms_norm_eps").doubleValue());
    assertThat(t.attentionBias()).isEqualTo(text.get("attention_bias").booleanValue());
    assertThat(t.ropeTheta()).isEqualTo(rope.get("rope_theta").asDouble());
    assertThat(t.partialRotaryFactor()).isEqualTo(rope.get("partial_rotary_factor").asDouble());
    List<Integer> mrope = new ArrayList<>();
    rope.get("mrope_section").forEach(part -> mrope.add(part.intValue()));
    assertThat(t.mropeSection()).isEqualTo(mrope);
    List<String> layerTypes = new ArrayList<>();
    text.get("layer_types").forEach(type -> layerTypes.add(type.textValue()));
    assertThat(t.layerTypes().stream().map(LayerType::hfName).toList()).isEqualTo(layerTypes);
    VisionConfig v = config.vision().orElseThrow();
    Map<String, Function<VisionConfig, Integer>> visionFields = Map.of("depth", VisionConfig::depth,
        "hidden_size", VisionConfig::hiddenSize, "intermediate_size", VisionConfig::intermediateSize,
        "num_heads", VisionConfig::numHeads, "in_channels", VisionConfig::inChannels,
        "patch_size", VisionConfig::patchSize, "temporal_patch_size", VisionConfig::temporalPatchSize,
        "spatial_merge_size", VisionConfig::spatialMergeSize, "out_hidden_size", VisionConfig::outHiddenSize,
        "num_position_embeddings", VisionConfig::numPositionEmbeddings);
    visionFields.forEach((key, getter) ->
        assertThat(getter.apply(v)).as("vision_config." + key).isEqualTo(vision.get(key).intValue()));
    assertThat(v.hiddenAct()).isEqualTo(vision.get("hidden_act").textValue());
    assertThat(config.tieWordEmbeddings()).isEqualTo(raw.get("tie_word_embeddings").booleanValue());
    assertThat(config.imageTokenId()).isEqualTo(raw.get("image_token_id").longValue());
    assertThat(config.videoTokenId()).isEqualTo(raw.get("video_token_id").longValue());
    assertThat(config.visionStartTokenId()).isEqualTo(raw.get("vision_start_token_id").longValue());
    assertThat(config.visionEndTokenId()).isEqualTo(raw.get("vision_end_token_id").longValue());
  }

  /** Spec §1.5, one row per model: H, layers, heads, kv, I (dense) or E/top-k/I_e/I_s (MoE), GDN nK/nV. */
  record RealValues(String folder, boolean moe, int hidden, int layers, int heads, int kvHeads,
      int intermediate, int experts, int topK, int expertIntermediate, int sharedIntermediate, int linearValueHeads) {}

  private static final List<RealValues> REAL = List.of(
      new RealValues("Qwen3.5-9B", false, 4096, 32, 16, 4, 12288, 0, 0, 0, 0, 32),
      new RealValues("Qwen3.5-27B", false, 5120, 64, 24, 4, 17408, 0, 0, 0, 0, 48),
      new RealValues("Qwen3.5-35B-A3B", true, 2048, 40, 16, 2, 0, 256, 8, 512, 512, 32));

  @Test
  void realConfigsCarryTheSpecValues() {
    for (RealValues expected : REAL) {
      HfConfig raw = read(fixtures().resolve("qwen35-configs").resolve(expected.folder()).resolve("config.json"));
      Qwen35Config config = parse(raw);
      TextConfig text = config.text();
      String what = expected.folder();
      assertThat(config.moe()).as(what).isEqualTo(expected.moe());
      assertThat(config.visionLanguage()).as(what).isTrue();
      assertThat(List.of(text.hiddenSize(), text.numHiddenLayers(), text.numAttentionHeads(), text.numKeyValueHeads(),
          text.intermediateSize(), text.numExperts(), text.numExpertsPerTok(), text.moeIntermediateSize(),
          text.sharedExpertIntermediateSize(), text.linearNumKeyHeads(), text.linearNumValueHeads()))
          .as(what).containsExactly(expected.hidden(), expected.layers(), expected.heads(), expected.kvHeads(),
              expected.intermediate(), expected.experts(), expected.topK(), expected.expertIntermediate(),
              expected.sharedIntermediate(), 16, expected.linearValueHeads());
      assertThat(List.of(text.headDim(), text.linearKeyHeadDim(), text.linearValueHeadDim(), text.linearConvKernelDim(),
          text.rotaryDim())).as(what).containsExactly(256, 128, 128, 4, 64);
      assertThat(text.ropeTheta()).as(what).isEqualTo(1e7);
      assertThat(text.partialRotaryFactor()).isEqualTo(0.25);
      assertThat(text.mropeSection()).containsExactly(11, 11, 10);
      assertThat(text.vocabSize()).isEqualTo(248320);
      assertThat(config.tieWordEmbeddings()).isFalse();
      assertThat(text.rmsNormEps()).isEqualTo(1e-6);
      assertThat(text.maxPositionEmbeddings()).isEqualTo(262144);
      assertThat(config.declaredMtpLayers()).isEqualTo(1);
      for (int layer = 0; layer < text.numHiddenLayers(); layer++) {
        assertThat(text.isFullAttention(layer)).as(what + " layer " + layer).isEqualTo(layer % 4 == 3);
      }
      VisionConfig vision = config.vision().orElseThrow();
      assertThat(List.of(vision.depth(), vision.hiddenSize(), vision.numHeads(), vision.intermediateSize(),
          vision.patchSize(), vision.spatialMergeSize(), vision.numPositionEmbeddings(), vision.outHiddenSize()))
          .as(what).containsExactly(27, 1152, 16, 4304, 16, 2, 2304, expected.hidden());
      assertThat(List.of(config.imageTokenId(), config.videoTokenId(), config.visionStartTokenId(),
          config.visionEndTokenId())).containsExactly(248056L, 248057L, 248053L, 248054L);
    }
  }

  private static final String MINIMAL_DENSE = "{\"architectures\":[\"Qwen3_5ForConditionalGeneration\"],"
      + "\"text_config\":{\"rope_parameters\":{\"rope_theta\":10000000}},"
      + "\"vision_config\":{\"out_hidden_size\":4096}}";

  @Test
  void missingKeysTakeTheDenseDefaultsOfSpecSection1() {
    Qwen35Config config = parse(HfConfig.parse(FILE, MINIMAL_DENSE));
    TextConfig text = config.text();
    assertThat(text.vocabSize()).isEqualTo(248320);
    assertThat(List.of(text.hiddenSize(), text.intermediateSize(), text.numHiddenLayers(), text.numAttentionHeads(),
        text.numKeyValueHeads(), text.headDim(), text.linearConvKernelDim(), text.linearKeyHeadDim(),
        text.linearValueHeadDim(), text.linearNumKeyHeads(), text.linearNumValueHeads()))
        .containsExactly(4096, 12288, 32, 16, 4, 256, 4, 128, 128, 16, 32);
    assertThat(text.hiddenAct()).isEqualTo("silu");
    assertThat(text.maxPositionEmbeddings()).isEqualTo(32768);
    assertThat(text.rmsNormEps()).isEqualTo(1e-6);
    assertThat(text.initializerRange()).isEqualTo(0.02);
    assertThat(text.attentionBias()).isFalse();
    assertThat(text.attentionDropout()).isZero();
    assertThat(text.partialRotaryFactor()).isEqualTo(0.25);
    assertThat(text.mropeSection()).containsExactly(11, 11, 10);
    assertThat(text.layerTypesExplicit()).isFalse();
    assertThat(text.layerTypes()).hasSize(32);
    for (int layer = 0; layer < 32; layer++) {
      assertThat(text.layerTypes().get(layer))
          .isEqualTo((layer + 1) % 4 == 0 ? LayerType.FULL_ATTENTION : LayerType.LINEAR_ATTENTION);
    }
    assertThat(text.modelType()).isEqualTo("qwen3_5_text");
    assertThat(config.declaredMtpLayers()).isZero();
    assertThat(config.tieWordEmbeddings()).isFalse();
    assertThat(List.of(config.imageTokenId(), config.videoTokenId(), config.visionStartTokenId(),
        config.visionEndTokenId())).containsExactly(248056L, 248057L, 248053L, 248054L);
    VisionConfig vision = config.vision().orElseThrow();
    assertThat(List.of(vision.depth(), vision.hiddenSize(), vision.intermediateSize(), vision.numHeads(),
        vision.inChannels(), vision.patchSize(), vision.temporalPatchSize(), vision.spatialMergeSize(),
        vision.numPositionEmbeddings())).containsExactly(27, 1152, 4304, 16, 3, 16, 2, 2, 2304);
    assertThat(vision.hiddenAct()).isEqualTo("gelu_pytorch_tanh");
    assertThat(vision.deepstackVisualIndexes()).isEmpty();
  }

  @Test
  void missingKeysTakeTheMoeDefaultsOfSpecSection1() {
    String json = "{\"architectures\":[\"Qwen3_5MoeForConditionalGeneration\"],"
        + "\"text_config\":{\"rope_parameters\":{\"rope_theta\":1e7}},\"vision_config\":{\"out_hidden_size\":2048}}";
    TextConfig text = parse(HfConfig.parse(FILE, json)).text();
    assertThat(List.of(text.hiddenSize(), text.numHiddenLayers(), text.numAttentionHeads(), text.numKeyValueHeads(),
        text.numExperts(), text.numExpertsPerTok(), text.moeIntermediateSize(), text.sharedExpertIntermediateSize(),
        text.intermediateSize())).containsExactly(2048, 40, 16, 2, 256, 8, 512, 512, 0);
    assertThat(text.modelType()).isEqualTo("qwen3_5_moe_text");
    // The class default of out_hidden_size (3584) does not match H = 2048: an explicit value is needed.
    assertInvalid(json.replace(",\"vision_config\":{\"out_hidden_size\":2048}", ",\"vision_config\":{}"),
        "vision_config.out_hidden_size", "3584", "2048");
  }

  @Test
  void aWidthMismatchFromADefaultNamesTheMissingKey() {
    String json = "{\"architectures\":[\"Qwen3_5MoeForConditionalGeneration\"],"
        + "\"text_config\":{\"hidden_size\":64,\"rope_parameters\":{\"rope_theta\":1e7}},"
        + "\"vision_config\":{\"out_hidden_size\":64}}";
    assertThat(parse(HfConfig.parse(FILE, json)).text().hiddenSize()).isEqualTo(64);
    assertThatThrownBy(() -> parse(HfConfig.parse(FILE, json.replace("\"hidden_size\":64,", ""))))
        .isInstanceOf(ConfigException.class).hasMessage(FILE + ": missing key 'text_config.hidden_size' (its default "
            + "2048 differs from vision_config.out_hidden_size 64)");
    assertThatThrownBy(() -> parse(HfConfig.parse(FILE, json.replace("{\"out_hidden_size\":64}", "{}"))))
        .isInstanceOf(ConfigException.class).hasMessage(FILE + ": missing key 'vision_config.out_hidden_size' (its "
            + "default 3584 differs from text_config.hidden_size 64)");
    assertThatThrownBy(() -> parse(HfConfig.parse(FILE, json.replace("\"hidden_size\":64,", "")
        .replace("{\"out_hidden_size\":64}", "{}")))).isInstanceOf(ConfigException.class).hasMessage(FILE
            + ": missing key 'text_config.hidden_size' (vision_config.out_hidden_size is missing too, and their "
            + "defaults 2048 and 3584 differ)");
    assertThatThrownBy(() -> parse(HfConfig.parse(FILE, json.replace("\"out_hidden_size\":64",
        "\"out_hidden_size\":32")))).isInstanceOf(ConfigException.class).hasMessage(FILE
            + ": vision_config.out_hidden_size: 32 differs from text_config.hidden_size 64");
  }

  @Test
  void legacyRopeSpellingAndTextOnlyModels() {
    String legacy = "{\"architectures\":[\"Qwen3_5ForConditionalGeneration\"],\"text_config\":{"
        + "\"rope_theta\":5e6,\"partial_rotary_factor\":0.5,\"rope_scaling\":{\"type\":\"mrope\","
        + "\"mrope_section\":[22,22,20]}},\"vision_config\":{\"out_hidden_size\":4096}}";
    TextConfig text = parse(HfConfig.parse(FILE, legacy)).text();
    assertThat(text.ropeTheta()).isEqualTo(5e6);
    assertThat(text.partialRotaryFactor()).isEqualTo(0.5);
    assertThat(text.mropeSection()).containsExactly(22, 22, 20);
    assertThat(text.rotaryDim()).isEqualTo(128);

    String textOnly = "{\"architectures\":[\"Qwen3_5ForCausalLM\"],\"hidden_size\":1024,\"num_hidden_layers\":24,"
        + "\"tie_word_embeddings\":true,\"rope_parameters\":{\"rope_theta\":1e7},\"dtype\":\"bfloat16\"}";
    Qwen35Config config = parse(HfConfig.parse(FILE, textOnly));
    assertThat(config.visionLanguage()).isFalse();
    assertThat(config.vision()).isEmpty();
    assertThat(config.text().hiddenSize()).isEqualTo(1024);
    assertThat(config.tieWordEmbeddings()).isTrue();
    assertThat(config.declaredDtype()).contains("bfloat16");
  }

  private static void assertInvalid(String json, String... fragments) {
    assertThatThrownBy(() -> parse(HfConfig.parse(FILE, json))).isInstanceOf(ConfigException.class)
        .message().startsWith(FILE + ": ").contains(fragments);
  }

  /** {@link #MINIMAL_DENSE} with {@code edit} applied to a copy of its tree. */
  private static String edited(UnaryOperator<ObjectNode> edit) {
    ObjectNode root = HfConfig.parse(FILE, MINIMAL_DENSE).raw().deepCopy();
    return edit.apply(root).toString();
  }

  private static ObjectNode textOf(ObjectNode root) {
    return (ObjectNode) root.get("text_config");
  }

  private static ObjectNode visionOf(ObjectNode root) {
    return (ObjectNode) root.get("vision_config");
  }

  @Test
  void wrongTypesNameTheKeyPath() {
    assertInvalid(edited(root -> { textOf(root).put("hidden_size", "4096"); return root; }),
        "text_config.hidden_size", "an integer");
    assertInvalid(edited(root -> { visionOf(root).put("depth", true); return root; }),
        "vision_config.depth", "an integer");
    assertInvalid(edited(root -> { ((ObjectNode) textOf(root).get("rope_parameters")).put("rope_theta", "big");
      return root; }), "text_config.rope_parameters.rope_theta", "a number");
    assertInvalid(edited(root -> { textOf(root).putArray("layer_types").add(1); return root; }),
        "text_config.layer_types", "a list of strings");
    assertInvalid(edited(root -> { root.put("text_config", 3); return root; }), "text_config", "an object");
    assertInvalid(edited(root -> { root.put("tie_word_embeddings", "no"); return root; }),
        "tie_word_embeddings", "true or false");
    assertInvalid(edited(root -> { root.put("image_token_id", 1.5); return root; }), "image_token_id");
    assertThatThrownBy(() -> HfConfig.parse(FILE, MINIMAL_DENSE.replace("}}", "}"))).isInstanceOf(ConfigException.class)
        .hasMessageContaining(FILE + ": not valid JSON");
  }

  @Test
  void inconsistentValuesNameTheKeyPath() {
    assertInvalid(edited(root -> { textOf(root).put("num_hidden_layers", 4).putArray("layer_types")
        .add("linear_attention"); return root; }), "text_config.layer_types", "1 entries", "4");
    assertInvalid(edited(root -> { textOf(root).put("num_hidden_layers", 1).putArray("layer_types")
        .add("sliding_attention"); return root; }), "text_config.layer_types", "sliding_attention");
    assertInvalid(edited(root -> { ((ObjectNode) textOf(root).get("rope_parameters")).putArray("mrope_section")
        .add(11).add(11).add(11); return root; }), "text_config.rope_parameters.mrope_section", "32");
    assertInvalid(edited(root -> { ((ObjectNode) textOf(root).get("rope_parameters")).put("rope_type", "yarn");
      return root; }), "text_config.rope_parameters.rope_type", "yarn");
    assertInvalid(edited(root -> { textOf(root).remove("rope_parameters"); return root; }),
        "text_config.rope_parameters", "rope_theta");
    assertInvalid(edited(root -> { ((ObjectNode) textOf(root).get("rope_parameters")).put("rope_theta", -1);
      return root; }), "text_config.rope_parameters.rope_theta", "positive");
    assertInvalid(edited(root -> { ((ObjectNode) textOf(root).get("rope_parameters"))
        .put("partial_rotary_factor", 1.5); return root; }), "text_config.rope_parameters.partial_rotary_factor");
    assertInvalid(edited(root -> { textOf(root).put("num_key_value_heads", 3); return root; }),
        "text_config.num_attention_heads", "multiple of num_key_value_heads 3");
    assertInvalid(edited(root -> { textOf(root).put("linear_num_value_heads", 24); return root; }),
        "text_config.linear_num_value_heads", "multiple of linear_num_key_heads 16");
    assertInvalid(edited(root -> { textOf(root).put("hidden_size", 2048); return root; }),
        "vision_config.out_hidden_size", "2048");
    assertInvalid(edited(root -> { visionOf(root).put("num_heads", 7); return root; }),
        "vision_config.hidden_size", "num_heads 7");
    assertInvalid(edited(root -> { visionOf(root).put("num_position_embeddings", 2000); return root; }),
        "vision_config.num_position_embeddings", "square");
    assertInvalid(edited(root -> { visionOf(root).putArray("deepstack_visual_indexes").add(3); return root; }),
        "vision_config.deepstack_visual_indexes");
    assertInvalid(edited(root -> { root.remove("vision_config"); return root; }), "vision_config", "missing");
    assertInvalid(edited(root -> { textOf(root).put("rms_norm_eps", 0); return root; }), "text_config.rms_norm_eps");
    for (String key : List.of("intermediate_size", "head_dim", "num_hidden_layers", "linear_key_head_dim",
        "linear_conv_kernel_dim", "linear_num_value_heads", "full_attention_interval", "vocab_size")) {
      assertInvalid(edited(root -> { textOf(root).put(key, key.equals("linear_num_value_heads") ? -16 : 0);
        return root; }), "text_config." + key, "positive");
    }
    for (String key : List.of("depth", "patch_size", "spatial_merge_size", "temporal_patch_size", "in_channels")) {
      assertInvalid(edited(root -> { visionOf(root).put(key, 0); return root; }), "vision_config." + key, "positive");
    }
    String moe = "{\"architectures\":[\"Qwen3_5MoeForConditionalGeneration\"],\"text_config\":{\"num_experts\":4,"
        + "\"num_experts_per_tok\":5,\"rope_parameters\":{\"rope_theta\":1e7}},\"vision_config\":{\"out_hidden_size\":2048}}";
    assertInvalid(moe, "text_config.num_experts_per_tok", "1..4");
    assertInvalid(moe.replace("\"num_experts\":4,", "\"num_experts\":4,\"moe_intermediate_size\":0,")
        .replace("\"num_experts_per_tok\":5", "\"num_experts_per_tok\":2"), "text_config.moe_intermediate_size");
  }

  @Test
  void unknownArchitecturesAreRefused() {
    HfConfig config = HfConfig.parse(FILE, MINIMAL_DENSE);
    assertThatThrownBy(() -> Qwen35Config.parse(config, "LlamaForCausalLM")).isInstanceOf(ConfigException.class)
        .hasMessageContaining("architectures").hasMessageContaining("LlamaForCausalLM");
  }
}
