package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code verify}: a checkpoint and its own conversions (shards at several layouts, torch_dist) agree exactly in both
 * modes; a copy with one perturbed tensor fails the forward comparison (exit 3) and {@code --weights} names exactly
 * that tensor.
 */
class VerifyCommandTest {

  @TempDir
  Path temp;

  static Stream<Arguments> conversions() {
    return Stream.of(
        Arguments.of("qwen35_dense_vl", List.of("--tp", "2", "--pp", "2")),
        Arguments.of("qwen35_moe_vl", List.of("--tp", "2", "--ep", "2")),
        Arguments.of("qwen35_moe_vl_packed_bf16", List.of("--pp", "2", "--ep", "2", "--etp", "1")),
        Arguments.of("qwen35_dense_vl_bf16_sharded", List.of("--format", "torch_dist")),
        Arguments.of("qwen35_moe_vl", List.of("--format", "torch_dist", "--tp", "2")));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("conversions")
  void aCheckpointAndItsConversionAgreeExactly(String model, List<String> layout) throws IOException {
    Path converted = temp.resolve("converted");
    List<String> arguments = new ArrayList<>(List.of("import", fixture(model).toString(), converted.toString(),
        "--quiet"));
    arguments.addAll(layout);
    assertThat(run(arguments.toArray(String[]::new)).exitCode()).isZero();
    Run logprobs = run("verify", fixture(model).toString(), converted.toString(), "--tolerance", "0", "--json",
        "--quiet");
    assertThat(logprobs.exitCode()).as(logprobs.err()).isZero();
    JsonNode report = Output.JSON.readTree(logprobs.out());
    assertThat(report.get("max_abs_logprob_diff").asDouble()).isZero();
    assertThat(report.get("prompts")).hasSize(2);
    Run weights = run("verify", fixture(model).toString(), converted.toString(), "--weights", "--json", "--quiet");
    assertThat(weights.exitCode()).as(weights.err()).isZero();
    JsonNode weightReport = Output.JSON.readTree(weights.out());
    assertThat(weightReport.get("different").asInt()).isZero();
    assertThat(weightReport.get("identical").asInt()).isEqualTo(weightReport.get("tensors").asInt()).isPositive();
  }

  static Stream<Arguments> perturbations() {
    return Stream.of(
        Arguments.of("qwen35_moe_vl", "model.language_model.layers.0.linear_attn.in_proj_qkv.weight"),
        Arguments.of("qwen35_moe_vl", "model.language_model.layers.0.mlp.experts.3.up_proj.weight"),
        Arguments.of("qwen35_moe_vl", "model.visual.blocks.0.attn.qkv.weight"),
        Arguments.of("qwen35_dense_vl", "mtp.fc.weight"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("perturbations")
  void onePerturbedTensorIsCaughtAndNamed(String model, String tensor) throws IOException {
    Path perturbed = perturbedCopy(fixture(model), tensor);
    Run logprobs = run("verify", fixture(model).toString(), perturbed.toString(), "--quiet");
    assertThat(logprobs.exitCode()).as(logprobs.out() + logprobs.err()).isEqualTo(3);
    assertThat(logprobs.err()).contains("beyond tolerance").contains("position");
    Run weights = run("verify", fixture(model).toString(), perturbed.toString(), "--weights", "--json", "--quiet");
    assertThat(weights.exitCode()).isEqualTo(3);
    JsonNode differences = Output.JSON.readTree(weights.out()).get("differences");
    assertThat(differences).hasSize(1);
    assertThat(differences.get(0).get("name").asText()).isEqualTo(tensor);
    assertThat(differences.get(0).get("max_abs_difference").asDouble()).isPositive();
  }

  @Test
  void promptsFileWithIdsAndArgumentErrors() throws IOException {
    Path prompts = temp.resolve("prompts.jsonl");
    Files.writeString(prompts, "{\"input_ids\": [1, 2, 3, 4, 5, 6]}\n\n{\"input_ids\": [7, 8, 9]}\n");
    Run run = run("verify", fixture("qwen35_dense_vl").toString(), fixture("qwen35_dense_vl").toString(), "--prompts",
        prompts.toString(), "--json", "--quiet");
    assertThat(run.exitCode()).as(run.err()).isZero();
    assertThat(Output.JSON.readTree(run.out()).get("prompts")).extracting(prompt -> prompt.get("label").asText())
        .containsExactly("line-1", "line-3");
    Files.writeString(prompts, "{\"text\": 3}\n");
    assertThat(run("verify", fixture("qwen35_dense_vl").toString(), fixture("qwen35_dense_vl").toString(),
        "--prompts", prompts.toString(), "--quiet").exitCode()).isEqualTo(2);
    assertThat(run("verify", fixture("qwen35_dense_vl").toString(), fixture("qwen35_dense_vl").toString(),
        "--weights", "--prompts", prompts.toString()).exitCode()).isEqualTo(2);
  }

  /** A copy of an HF folder with rows of one tensor (the first quarter, at least one) shifted by 0.25. */
  private Path perturbedCopy(Path source, String name) throws IOException {
    Path copy = Files.createDirectories(temp.resolve("perturbed"));
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(source)) {
      List<SafetensorsWriter.Entry> entries = new ArrayList<>();
      for (String tensorName : checkpoint.names()) {
        Tensor tensor = checkpoint.tensor(tensorName);
        if (tensorName.equals(name)) {
          long rows = tensor.shape().dim(0);
          long changed = Math.max(1, rows / 4);
          tensor = Tensor.concat(0, List.of(tensor.slice(0, 0, changed).convert(tensor.dtype(), 0.25f),
              tensor.slice(0, changed, rows - changed))).materialize();
        }
        entries.add(new SafetensorsWriter.Entry(tensorName, tensor));
      }
      SafetensorsWriter.writeFile(copy.resolve("model.safetensors"), entries, bytes -> {});
    }
    try (Stream<Path> files = Files.list(source)) {
      for (Path file : files.filter(path -> path.toString().endsWith(".json")).toList()) {
        Files.copy(file, copy.resolve(file.getFileName()));
      }
    }
    return copy;
  }
}
