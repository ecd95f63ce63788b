package dev.megabridge.qwen35.provider;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code --schema slime} Megatron arguments against slime's {@code scripts/models/qwen3.5-*.sh}, written here by hand
 * from slime-native-schema §5 (the common arguments + the size's table row), compared as sorted flag → values maps.
 *
 * <p>The real-size configs are VL ({@code *ForConditionalGeneration}) and declare one MTP layer, so their expected
 * lists are the script's with the {@code --spec} line replaced by the VL model's (as {@code qwen3.5-35B-A3B-vl.sh}
 * does) and {@code --mtp-num-layers 1} added (the scripts leave MTP off; megabridge writes the MTP weights).
 */
class SlimeModelArgsTest {

  private static final AutoBridge AUTO = AutoBridge.discover();

  private static final String TEXT_SPEC = "--spec slime_plugins.models.qwen3_5 get_qwen3_5_spec";
  private static final String VL_SPEC = "--spec slime_plugins.models.qwen3_5_vl get_qwen3_5_vl_model_provider";

  /** §5 "Common to all", without the {@code --spec} line. */
  private static final String COMMON = "--disable-bias-linear --qk-layernorm --group-query-attention --kv-channels 256"
      + " --use-gated-attention --normalization RMSNorm --apply-layernorm-1p --position-embedding-type rope"
      + " --norm-epsilon 1e-6 --rotary-percent 0.25 --swiglu --vocab-size 248320 --rotary-base 10000000"
      + " --attention-output-gate";

  /** §5 table, 35B-A3B row: the MoE arguments; {@code --moe-layer-freq} is the script's list of 40 ones. */
  private static final String MOE_35B = "--num-experts 256 --moe-ffn-hidden-size 512"
      + " --moe-shared-expert-intermediate-size 512 --moe-router-topk 8 --moe-router-score-function softmax"
      + " --moe-shared-expert-gate --moe-layer-freq [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
      + "1,1,1,1,1,1,1,1] --moe-grouped-gemm --moe-token-dispatcher-type alltoall --moe-token-drop-policy probs"
      + " --moe-router-dtype fp32 --moe-permute-fusion --moe-aux-loss-coeff 0";

  @TempDir
  Path temp;

  private static List<String> slimeArgs(Path folder) {
    return AUTO.fromHfPretrained(folder, BridgeOptions.forSchema(Schema.SLIME)).megatronArgs();
  }

  /** Flag → its values (tokens up to the next {@code --flag}, joined by a space), sorted by flag. */
  private static Map<String, String> flags(List<String> args) {
    Map<String, String> flags = new TreeMap<>();
    String flag = null;
    List<String> values = new ArrayList<>();
    for (String arg : args) {
      if (arg.startsWith("--")) {
        if (flag != null) {
          flags.put(flag, String.join(" ", values));
        }
        assertThat(flags).as("flag given twice: " + arg).doesNotContainKey(arg);
        flag = arg;
        values = new ArrayList<>();
      } else {
        assertThat(flag).as("value before any flag: " + arg).isNotNull();
        values.add(arg);
      }
    }
    if (flag != null) {
      flags.put(flag, String.join(" ", values));
    }
    return flags;
  }

  private static Map<String, String> flags(String... parts) {
    return flags(List.of(String.join(" ", parts).split(" ")));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      // script (§5 table row): layers, hidden, heads / groups, ffn, untie
      "Qwen3.5-9B,  --num-layers 32 --hidden-size 4096 --num-attention-heads 16 --num-query-groups 4"
          + " --ffn-hidden-size 12288 --untie-embeddings-and-output-weights",
      "Qwen3.5-27B, --num-layers 64 --hidden-size 5120 --num-attention-heads 24 --num-query-groups 4"
          + " --ffn-hidden-size 17408 --untie-embeddings-and-output-weights"})
  void denseVlConfigsGiveTheScriptWithTheVlSpec(String name, String row) {
    assertThat(flags(slimeArgs(Fixtures.realConfig(name))))
        .isEqualTo(flags(VL_SPEC, COMMON, row, "--mtp-num-layers 1"));
  }

  @Test
  void moeVlConfigGivesTheVlScript() {
    String row = "--num-layers 40 --hidden-size 2048 --num-attention-heads 16 --num-query-groups 2"
        + " --ffn-hidden-size 512 --untie-embeddings-and-output-weights";
    assertThat(flags(slimeArgs(Fixtures.realConfig("Qwen3.5-35B-A3B"))))
        .isEqualTo(flags(VL_SPEC, COMMON, row, MOE_35B, "--mtp-num-layers 1"));
  }

  @Test
  void withoutMtpLayersTheArgumentsAreExactlyTheVlScript() {
    Path folder = TestCheckpoints.writeConfig(Fixtures.realConfig("Qwen3.5-35B-A3B"), temp.resolve("no-mtp"),
        config -> TestCheckpoints.textConfig(config).put("mtp_num_hidden_layers", 0));
    String row = "--num-layers 40 --hidden-size 2048 --num-attention-heads 16 --num-query-groups 2"
        + " --ffn-hidden-size 512 --untie-embeddings-and-output-weights";
    assertThat(flags(slimeArgs(folder))).isEqualTo(flags(VL_SPEC, COMMON, row, MOE_35B));
  }

  /** The tied text-only sizes of §5 (0.8B, 4B) as {@code Qwen3_5ForCausalLM} configs: the text spec, no untie. */
  @ParameterizedTest(name = "{0} layers, hidden {1}")
  @CsvSource({"24, 1024, 8, 2, 3584", "32, 2560, 16, 4, 9216"})
  void textOnlyConfigsGiveTheTextScript(int layers, int hidden, int heads, int groups, int ffn) {
    Path folder = textOnly(temp.resolve("text"), text -> {
      text.put("num_hidden_layers", layers);
      text.put("hidden_size", hidden);
      text.put("num_attention_heads", heads);
      text.put("num_key_value_heads", groups);
      text.put("intermediate_size", ffn);
      text.put("tie_word_embeddings", true);
      text.put("mtp_num_hidden_layers", 0);
    });
    String row = "--num-layers " + layers + " --hidden-size " + hidden + " --num-attention-heads " + heads
        + " --num-query-groups " + groups + " --ffn-hidden-size " + ffn;
    assertThat(flags(slimeArgs(folder))).isEqualTo(flags(TEXT_SPEC, COMMON, row));
  }

  /** Every size follows the config, not the folder's (model) name: an edited 9B config in a folder named 9B. */
  @Test
  void valuesComeFromTheConfigNotTheName() {
    Path folder = TestCheckpoints.writeConfig(Fixtures.realConfig("Qwen3.5-9B"), temp.resolve("Qwen3.5-9B"),
        config -> {
          ObjectNode text = TestCheckpoints.textConfig(config);
          text.remove("layer_types");
          text.put("num_hidden_layers", 16);
          text.put("num_attention_heads", 32);
          text.put("num_key_value_heads", 8);
          text.put("head_dim", 128);
          text.put("intermediate_size", 8192);
          text.put("vocab_size", 151936);
          text.put("rms_norm_eps", 1e-5);
          text.put("mtp_num_hidden_layers", 2);
          ObjectNode rope = (ObjectNode) text.get("rope_parameters");
          rope.put("rope_theta", 5000000);
          rope.put("partial_rotary_factor", 0.5);
          rope.putArray("mrope_section").add(12).add(10).add(10);
          config.put("tie_word_embeddings", true);
        });
    Map<String, String> flags = flags(slimeArgs(folder));
    assertThat(flags).containsEntry("--num-layers", "16").containsEntry("--num-attention-heads", "32")
        .containsEntry("--num-query-groups", "8").containsEntry("--kv-channels", "128")
        .containsEntry("--ffn-hidden-size", "8192").containsEntry("--vocab-size", "151936")
        .containsEntry("--norm-epsilon", "1e-5").containsEntry("--rotary-base", "5000000")
        .containsEntry("--rotary-percent", "0.5").containsEntry("--mtp-num-layers", "2")
        .containsEntry("--spec", "slime_plugins.models.qwen3_5_vl get_qwen3_5_vl_model_provider")
        .doesNotContainKey("--untie-embeddings-and-output-weights");
  }

  /** The default schema keeps Megatron-Bridge's arguments (GDN sizes as arguments, mrope, no --spec). */
  @Test
  void megatronBridgeSchemaKeepsItsArguments() {
    List<String> args = AUTO.fromHfPretrained(Fixtures.realConfig("Qwen3.5-9B"), BridgeOptions.defaults())
        .megatronArgs();
    assertThat(flags(args)).doesNotContainKey("--spec").containsEntry("--position-embedding-type", "mrope")
        .containsEntry("--experimental-attention-variant", "gated_delta_net");
  }

  /** The 9B config as a text-only {@code Qwen3_5ForCausalLM} config (no vision_config), edited by {@code edit}. */
  private static Path textOnly(Path target, Consumer<ObjectNode> edit) {
    return TestCheckpoints.writeConfig(Fixtures.realConfig("Qwen3.5-9B"), target, config -> {
      config.putArray("architectures").add("Qwen3_5ForCausalLM");
      config.put("model_type", "qwen3_5_text");
      config.remove("vision_config");
      ObjectNode text = TestCheckpoints.textConfig(config);
      text.remove("layer_types");
      edit.accept(text);
    });
  }
}
