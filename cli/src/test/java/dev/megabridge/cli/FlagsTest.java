package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.cli.CliTest.Run;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every flag a command accepts is used or rejected; outputs are given the same way everywhere (issue 12, item 12). */
class FlagsTest {

  @TempDir
  Path temp;

  @Test
  void providerChecksTheLayoutAgainstTheModel() {
    Run rejected = run("provider", fixture("qwen35_moe_vl").toString(), "--tp", "3", "--ep", "7");
    assertThat(rejected.exitCode()).isEqualTo(2);
    assertThat(rejected.err().strip())
        .isEqualTo("error: tp = 3 does not divide text_config.num_key_value_heads (query groups) = 2");
    Run stages = run("provider", fixture("qwen35_moe_vl").toString(), "--pp", "16");
    assertThat(stages.exitCode()).isEqualTo(2);
  }

  @Test
  void providerAddsTheLayoutItWasGiven() throws IOException {
    Run json = run("provider", fixture("qwen35_moe_vl").toString(), "--tp", "2", "--ep", "4", "--pp", "2");
    assertThat(json.exitCode()).as(json.err()).isZero();
    JsonNode provider = Output.JSON.readTree(json.out());
    assertThat(provider.get("tensor_model_parallel_size").asInt()).isEqualTo(2);
    assertThat(provider.get("pipeline_model_parallel_size").asInt()).isEqualTo(2);
    assertThat(provider.get("expert_model_parallel_size").asInt()).isEqualTo(4);
    assertThat(provider.get("expert_tensor_parallel_size").asInt()).isEqualTo(2);
    Run args = run("provider", fixture("qwen35_moe_vl").toString(), "--format", "megatron-args", "--tp", "2", "--ep",
        "4", "--etp", "1");
    assertThat(args.out()).contains("--tensor-model-parallel-size 2 --pipeline-model-parallel-size 1 "
        + "--expert-model-parallel-size 4 --expert-tensor-parallel-size 1");
    Run plain = run("provider", fixture("qwen35_moe_vl").toString(), "--format", "megatron-args");
    assertThat(plain.out()).doesNotContain("--tensor-model-parallel-size");
  }

  @Test
  void providerHonoursJsonForMegatronArgs() throws IOException {
    Run run = run("provider", fixture("qwen35_dense_vl").toString(), "--format", "megatron-args", "--json");
    assertThat(run.exitCode()).as(run.err()).isZero();
    JsonNode report = Output.JSON.readTree(run.out());
    assertThat(report.get("format").asText()).isEqualTo("megatron-args");
    List<String> arguments = new ArrayList<>();
    report.get("arguments").forEach(node -> arguments.add(node.asText()));
    assertThat(arguments).containsSequence("--mrope-section", "3", "3", "2");
  }

  @Test
  void providerRejectsNamingOptionsItDoesNotUse() {
    Run run = run("provider", fixture("qwen35_dense_vl").toString(), "--mtp-naming", "legacy");
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.err()).contains("--mtp-naming, --experts and the vocabulary padding options have no effect on "
        + "provider");
    Run padding = run("provider", fixture("qwen35_dense_vl").toString(), "--schema", "slime", "--pad-vocab-to", "2048");
    assertThat(padding.exitCode()).isEqualTo(2);
  }

  @Test
  void inspectRejectsALayoutForAMegatronFolderAndHfConfigForAnHfFolder() {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--quiet").exitCode()).isZero();
    Run layout = run("inspect", shards.toString(), "--tp", "2");
    assertThat(layout.exitCode()).isEqualTo(2);
    assertThat(layout.err()).contains("have no effect on inspect of a Megatron folder");
    Run hfConfig = run("inspect", fixture("qwen35_dense_vl").toString(), "--hf-config",
        fixture("qwen35_dense_vl").toString());
    assertThat(hfConfig.exitCode()).isEqualTo(2);
    assertThat(hfConfig.err()).contains("--hf-config applies to torch_dist checkpoints only");
  }

  @Test
  void generateRejectsSamplingOptionsWhenGreedy() {
    for (String option : List.of("--top-p", "--seed")) {
      Run run = run("generate", fixture("qwen35_dense_vl").toString(), "--prompt-ids", "1,2", option, "1");
      assertThat(run.exitCode()).as(option).isEqualTo(2);
      assertThat(run.err().strip()).as(option)
          .isEqualTo("error: " + option + " applies to sampling only; with --temperature 0 decoding is greedy");
    }
  }

  @Test
  void nonPositiveWriteThreadsAreABadArgumentForEveryWritingCommand() {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--quiet").exitCode()).isZero();
    for (String threads : List.of("0", "-1")) {
      List<List<String>> commands = List.of(
          List.of("import", fixture("qwen35_dense_vl").toString(), temp.resolve("a").toString()),
          List.of("import", fixture("qwen35_dense_vl").toString(), temp.resolve("b").toString(), "--format",
              "torch_dist"),
          List.of("convert", shards.toString(), temp.resolve("c").toString(), "--format", "torch_dist"),
          List.of("convert", shards.toString(), temp.resolve("d").toString(), "--format", "shards"),
          List.of("forward", fixture("qwen35_dense_vl").toString(), temp.resolve("e").toString(), "--inputs",
              fixture("qwen35_dense_vl").resolve("config.json").toString()),
          List.of("generate", fixture("qwen35_dense_vl").toString(), "--prompt-ids", "1"),
          List.of("export", shards.toString(), temp.resolve("f").toString()),
          List.of("roundtrip", fixture("qwen35_dense_vl").toString()),
          List.of("verify", fixture("qwen35_dense_vl").toString(), fixture("qwen35_dense_vl").toString()),
          List.of("bench", "decode"));
      for (List<String> command : commands) {
        List<String> arguments = new ArrayList<>(command);
        arguments.addAll(List.of("--threads", threads, "--quiet"));
        Run run = run(arguments.toArray(String[]::new));
        assertThat(run.exitCode()).as(arguments.toString()).isEqualTo(2);
        assertThat(run.err()).as(arguments.toString()).contains("--threads").contains("must be positive");
      }
    }
    assertThat(temp.resolve("a")).doesNotExist();
    assertThat(temp.resolve("c")).doesNotExist();
    assertThat(temp.resolve("f")).doesNotExist();
  }

  @Test
  void streamExportTakesItsOutputPositionallyOrByOutButNotBoth() throws IOException {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--quiet").exitCode()).isZero();
    Run positional = run("stream-export", shards.toString(), temp.resolve("buckets").toString(), "--json");
    assertThat(positional.exitCode()).as(positional.err()).isZero();
    assertThat(temp.resolve("buckets").resolve("manifest.json")).exists();
    Run both = run("stream-export", shards.toString(), temp.resolve("x").toString(), "--out",
        temp.resolve("y").toString());
    assertThat(both.exitCode()).isEqualTo(2);
    assertThat(both.err()).contains("output given twice");
    Run neither = run("stream-export", shards.toString());
    assertThat(neither.exitCode()).isEqualTo(2);
    assertThat(neither.err()).contains("missing output");
    assertThat(temp.resolve("x")).doesNotExist();
    assertThat(temp.resolve("y")).doesNotExist();
    try (var files = Files.list(temp)) {
      assertThat(files.map(path -> path.getFileName().toString())).containsExactlyInAnyOrder("shards", "buckets");
    }
  }

  /** Closed choices are picocli types: an unknown spelling is exit 2 naming the option and the accepted ones. */
  @Test
  void unknownChoicesNameTheAcceptedSpellings() {
    String model = fixture("qwen35_dense_vl").toString();
    Map<List<String>, String> cases = Map.of(
        List.of("import", model, temp.resolve("a").toString(), "--format", "tdist"), "expected shards or torch_dist",
        List.of("export", model, temp.resolve("b").toString(), "--dtype", "f16"),
            "expected source or keep or bf16 or fp32",
        List.of("import", model, temp.resolve("c").toString(), "--mtp-naming", "new"), "expected current or legacy",
        List.of("import", model, temp.resolve("d").toString(), "--experts", "te"), "expected grouped or sequential",
        List.of("provider", model, "--format", "yaml"), "expected json or megatron-args");
    cases.forEach((arguments, expected) -> {
      Run run = run(arguments.toArray(String[]::new));
      assertThat(run.exitCode()).as(arguments.toString()).isEqualTo(2);
      assertThat(run.err()).as(arguments.toString()).contains(expected);
    });
  }
}
