package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.cli.CliTest.Run;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code provider --schema slime}: slime's model arguments (slime-native-schema §5) from the command line. */
class SlimeProviderCliTest {

  private static String realConfig(String name) {
    return Path.of(System.getProperty("megabridge.fixtures", "../fixtures")).resolve("qwen35-configs").resolve(name)
        .toString();
  }

  @Test
  void printsSlimeModelArgumentsForTheMoeConfig() {
    Run run = run("provider", realConfig("Qwen3.5-35B-A3B"), "--schema", "slime", "--format", "megatron-args");
    assertThat(run.exitCode()).as(run.err()).isZero();
    String line = run.out().strip();
    assertThat(line).startsWith("--spec slime_plugins.models.qwen3_5_vl get_qwen3_5_vl_model_provider ")
        .contains(" --num-layers 40 ", " --hidden-size 2048 ", " --num-query-groups 2 ", " --num-experts 256 ",
            " --moe-router-topk 8 ", " --moe-token-drop-policy probs ", " --position-embedding-type rope ",
            " --rotary-base 10000000 ", " --norm-epsilon 1e-6 ")
        .endsWith("--mtp-num-layers 1")
        // Megatron-Bridge's model arguments are not slime's.
        .doesNotContain("--experimental-attention-variant", "--mrope-section", "--bf16");
  }

  @Test
  void denseConfigAndDefaultFormat() {
    Run explicit = run("provider", realConfig("Qwen3.5-9B"), "--schema", "slime", "--format", "megatron-args");
    assertThat(explicit.exitCode()).as(explicit.err()).isZero();
    assertThat(explicit.out()).contains("--ffn-hidden-size 12288 ", "--num-attention-heads 16 ",
        "--untie-embeddings-and-output-weights").doesNotContain("--num-experts");
    // slime has no Megatron-Bridge provider: its default format is the arguments.
    Run implicit = run("provider", realConfig("Qwen3.5-9B"), "--schema", "slime");
    assertThat(implicit.exitCode()).as(implicit.err()).isZero();
    assertThat(implicit.out()).isEqualTo(explicit.out());
  }

  @Test
  void jsonReportAndLayout() throws IOException {
    Run run = run("provider", realConfig("Qwen3.5-35B-A3B"), "--schema", "slime", "--json", "--tp", "2", "--ep", "8",
        "--etp", "1");
    assertThat(run.exitCode()).as(run.err()).isZero();
    JsonNode report = Output.JSON.readTree(run.out());
    assertThat(report.get("format").asText()).isEqualTo("megatron-args");
    List<String> arguments = new ArrayList<>();
    report.get("arguments").forEach(node -> arguments.add(node.asText()));
    assertThat(arguments).startsWith("--spec", "slime_plugins.models.qwen3_5_vl", "get_qwen3_5_vl_model_provider")
        .containsSequence("--moe-ffn-hidden-size", "512")
        .containsSequence("--tensor-model-parallel-size", "2", "--pipeline-model-parallel-size", "1",
            "--expert-model-parallel-size", "8", "--expert-tensor-parallel-size", "1");
  }

  @Test
  void providerJsonIsRefusedForSlime() {
    Run run = run("provider", realConfig("Qwen3.5-27B"), "--schema", "slime", "--format", "json");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.err()).contains("--format json --schema slime").contains("use --format megatron-args");
    assertThat(run.out()).isEmpty();
  }
}
