package dev.megabridge.qwen35.provider;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Provider fields (spec §5) and Megatron-LM arguments for the released 9B / 27B / 35B-A3B configs; expected values
 * come from fixtures/qwen35-configs/README.md (slime's arguments) and spec §1.5/§5, not from the code.
 */
class Qwen35ProviderTest {

  private static final AutoBridge AUTO = AutoBridge.discover();

  @TempDir
  Path temp;

  private static BridgeModel model(String name) {
    return AUTO.fromHfPretrained(Fixtures.realConfig(name), BridgeOptions.defaults());
  }

  /** Flag → its values (tokens up to the next {@code --flag}). */
  private static Map<String, List<String>> parse(List<String> args) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    List<String> current = null;
    for (String arg : args) {
      if (arg.startsWith("--")) {
        assertThat(out).as("flag given twice: " + arg).doesNotContainKey(arg);
        current = new ArrayList<>();
        out.put(arg, current);
      } else {
        assertThat(current).as("value before any flag: " + arg).isNotNull();
        current.add(arg);
      }
    }
    return out;
  }

  /** slime's scripts/models/qwen3.5-*.sh arguments (README), as flag → values. */
  private static Map<String, List<String>> slime(String sizeSpecific) {
    String common = "--disable-bias-linear --qk-layernorm --group-query-attention --kv-channels 256"
        + " --normalization RMSNorm --apply-layernorm-1p --norm-epsilon 1e-6 --rotary-percent 0.25 --swiglu"
        + " --vocab-size 248320 --rotary-base 10000000 --attention-output-gate ";
    return parse(List.of((common + sizeSpecific).split(" ")));
  }

  private static void assertCoversSlime(Map<String, List<String>> actual, Map<String, List<String>> slime) {
    slime.forEach((flag, values) -> {
      assertThat(actual).as(flag).containsKey(flag);
      List<String> got = actual.get(flag);
      assertThat(got).as(flag).hasSameSizeAs(values);
      for (int index = 0; index < values.size(); index++) {
        String want = values.get(index);
        if (want.matches("-?[0-9.]+(e-?[0-9]+)?") && !want.contains("*")) {
          assertThat(Double.parseDouble(got.get(index))).as(flag).isEqualTo(Double.parseDouble(want));
        } else {
          assertThat(got.get(index)).as(flag).isEqualTo(want);
        }
      }
    });
  }

  private static void assertHybridAndVl(Map<String, List<String>> args, Map<String, Object> fields, int layers) {
    assertThat(args.get("--position-embedding-type")).containsExactly("mrope");
    assertThat(args.get("--mrope-section")).containsExactly("11", "11", "10");
    assertThat(args.get("--experimental-attention-variant")).containsExactly("gated_delta_net");
    assertThat(args.get("--linear-conv-kernel-dim")).containsExactly("4");
    assertThat(args.get("--linear-key-head-dim")).containsExactly("128");
    assertThat(args.get("--linear-value-head-dim")).containsExactly("128");
    assertThat(args.get("--linear-num-key-heads")).containsExactly("16");
    assertThat(args.get("--mtp-num-layers")).containsExactly("1");
    assertThat(args).containsKey("--bf16");
    // Layer pattern: every 4th layer (i + 1) % 4 == 0 is full attention.
    List<Integer> pattern = new ArrayList<>();
    for (int layer = 0; layer < layers; layer++) {
      pattern.add((layer + 1) % 4 == 0 ? 0 : 1);
    }
    Object freq = fields.get("linear_attention_freq");
    if (freq instanceof List<?> list) {
      assertThat(list).isEqualTo(pattern);
      // A periodic list is passed to Megatron-LM as its interval (slime passes 4 for these models).
      assertThat(args.get("--linear-attention-freq")).containsExactly("4");
    } else {
      assertThat(freq).isEqualTo(4);
      assertThat(args.get("--linear-attention-freq")).containsExactly("4");
    }
  }

  private static void assertCommonFields(Map<String, Object> fields) {
    Map<String, Object> expected = new LinkedHashMap<>();
    expected.put("kv_channels", 256);
    expected.put("head_dim", 256);
    expected.put("vocab_size", 248320L);
    expected.put("seq_length", 262144L);
    expected.put("layernorm_epsilon", 1e-6);
    expected.put("init_method_std", 0.02);
    expected.put("rotary_base", 1e7);
    expected.put("rotary_percent", 0.25);
    expected.put("make_vocab_size_divisible_by", 128);
    expected.put("params_dtype", "bfloat16");
    expected.put("bf16", true);
    expected.put("fp16", false);
    expected.put("activation_func", "silu");
    expected.put("normalization", "RMSNorm");
    expected.put("gated_linear_unit", true);
    expected.put("add_qkv_bias", false);
    expected.put("add_bias_linear", false);
    expected.put("qk_layernorm", true);
    expected.put("hidden_dropout", 0.0);
    expected.put("attention_dropout", 0.0);
    expected.put("layernorm_zero_centered_gamma", true);
    expected.put("attention_output_gate", true);
    expected.put("experimental_attention_variant", "gated_delta_net");
    expected.put("linear_conv_kernel_dim", 4);
    expected.put("linear_key_head_dim", 128);
    expected.put("linear_value_head_dim", 128);
    expected.put("linear_num_key_heads", 16);
    expected.put("mtp_num_layers", 1);
    expected.put("mtp_loss_scaling_factor", 0.1);
    expected.put("share_embeddings_and_output_weights", false);
    expected.put("position_embedding_type", "mrope");
    expected.put("mrope_section", List.of(11, 11, 10));
    expected.put("bos_token_id", null);
    expected.put("vision_start_token_id", 248053L);
    expected.put("vision_end_token_id", 248054L);
    expected.put("image_token_id", 248056L);
    expected.put("video_token_id", 248057L);
    expected.forEach((key, value) -> {
      assertThat(fields).as(key).containsKey(key);
      assertThat(fields.get(key)).as(key).isEqualTo(value);
    });
    @SuppressWarnings("unchecked")
    Map<String, Object> vision = (Map<String, Object>) fields.get("vision_config");
    assertThat(vision).containsEntry("num_layers", 27).containsEntry("hidden_size", 1152)
        .containsEntry("num_attention_heads", 16).containsEntry("num_query_groups", 16)
        .containsEntry("ffn_hidden_size", 4304).containsEntry("kv_channels", 72).containsEntry("patch_size", 16)
        .containsEntry("temporal_patch_size", 2).containsEntry("spatial_merge_size", 2)
        .containsEntry("normalization", "LayerNorm").containsEntry("layernorm_zero_centered_gamma", false)
        .containsEntry("gated_linear_unit", false).containsEntry("add_bias_linear", true)
        .containsEntry("add_qkv_bias", true).containsEntry("deepstack_visual_indexes", List.of())
        .containsEntry("num_position_embeddings", 2304).containsEntry("params_dtype", "bfloat16");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"Qwen3.5-9B, 32, 4096, 12288, 16, 32", "Qwen3.5-27B, 64, 5120, 17408, 24, 48"})
  void denseModels(String name, int layers, int hidden, int ffn, int heads, int valueHeads) {
    BridgeModel model = model(name);
    Map<String, Object> fields = model.provider();
    assertCommonFields(fields);
    assertThat(fields).containsEntry("provider_class", "Qwen35VLModelProvider").containsEntry("num_layers", layers)
        .containsEntry("hidden_size", hidden).containsEntry("ffn_hidden_size", ffn)
        .containsEntry("num_attention_heads", heads).containsEntry("num_query_groups", 4)
        .containsEntry("linear_num_value_heads", valueHeads).containsEntry("eos_token_id", 248044L)
        .doesNotContainKeys("num_moe_experts", "audio_token_id");
    @SuppressWarnings("unchecked")
    Map<String, Object> vision = (Map<String, Object>) fields.get("vision_config");
    assertThat(vision).containsEntry("out_hidden_size", hidden);
    Map<String, List<String>> args = parse(model.megatronArgs());
    assertCoversSlime(args, slime("--num-attention-heads " + heads + " --num-query-groups 4 --num-layers " + layers
        + " --hidden-size " + hidden + " --ffn-hidden-size " + ffn + " --untie-embeddings-and-output-weights"));
    assertHybridAndVl(args, fields, layers);
    assertThat(args.get("--linear-num-value-heads")).containsExactly(Integer.toString(valueHeads));
    assertThat(args).doesNotContainKeys("--num-experts", "--moe-grouped-gemm");
  }

  @Test
  void qwen35_35B_A3B() {
    BridgeModel model = model("Qwen3.5-35B-A3B");
    Map<String, Object> fields = model.provider();
    assertCommonFields(fields);
    assertThat(fields).containsEntry("provider_class", "Qwen35VLMoEModelProvider").containsEntry("num_layers", 40)
        .containsEntry("hidden_size", 2048).containsEntry("ffn_hidden_size", 512)
        .containsEntry("num_attention_heads", 16).containsEntry("num_query_groups", 2)
        .containsEntry("linear_num_value_heads", 32).containsEntry("eos_token_id", 248046L)
        .containsEntry("audio_token_id", 248076L)
        .containsEntry("num_moe_experts", 256).containsEntry("moe_router_topk", 8)
        .containsEntry("moe_ffn_hidden_size", 512).containsEntry("moe_shared_expert_intermediate_size", 512)
        .containsEntry("moe_shared_expert_gate", true).containsEntry("moe_grouped_gemm", true)
        .containsEntry("moe_router_load_balancing_type", "global_aux_loss").containsEntry("moe_router_pre_softmax", false)
        .containsEntry("moe_token_dispatcher_type", "alltoall").containsEntry("moe_permute_fusion", true)
        .containsEntry("moe_router_dtype", "fp32").containsEntry("moe_router_score_function", "softmax")
        .containsEntry("moe_aux_loss_coeff", 0.001);
    Map<String, List<String>> args = parse(model.megatronArgs());
    assertCoversSlime(args, slime("--num-attention-heads 16 --num-query-groups 2 --num-layers 40 --hidden-size 2048"
        + " --ffn-hidden-size 512 --untie-embeddings-and-output-weights --moe-ffn-hidden-size 512"
        + " --moe-shared-expert-intermediate-size 512 --moe-router-score-function softmax"
        + " --moe-token-dispatcher-type alltoall --moe-router-topk 8 --moe-layer-freq [1]*40 --num-experts 256"
        + " --moe-grouped-gemm --moe-router-dtype fp32 --moe-permute-fusion --moe-shared-expert-gate"));
    assertHybridAndVl(args, fields, 40);
  }

  @Test
  void tiedModelNeverGetsUntieArgument() {
    for (String name : List.of("Qwen3.5-9B", "Qwen3.5-35B-A3B")) {
      Path folder = TestCheckpoints.writeConfig(Fixtures.realConfig(name), temp.resolve(name),
          config -> config.put("tie_word_embeddings", true));
      BridgeModel model = AUTO.fromHfPretrained(folder, BridgeOptions.defaults());
      assertThat(model.provider()).containsEntry("share_embeddings_and_output_weights", true);
      assertThat(model.megatronArgs()).doesNotContain("--untie-embeddings-and-output-weights");
      assertThat(Collections.frequency(model.megatronArgs(), "--untie-embeddings-and-output-weights")).isZero();
    }
  }

  @Test
  void absentTokenIdsTakeTheSpecDefaults() {
    Path folder = TestCheckpoints.writeConfig(Fixtures.realConfig("Qwen3.5-9B"), temp.resolve("noids"), config -> {
      TestCheckpoints.textConfig(config).remove(List.of("bos_token_id", "eos_token_id"));
      config.remove(List.of("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"));
    });
    Map<String, Object> fields = AUTO.fromHfPretrained(folder, BridgeOptions.defaults()).provider();
    assertThat(fields).containsEntry("bos_token_id", 248045L).containsEntry("eos_token_id", 248044L)
        .containsEntry("image_token_id", 248056L).containsEntry("video_token_id", 248057L)
        .containsEntry("vision_start_token_id", 248053L).containsEntry("vision_end_token_id", 248054L);
  }
}
