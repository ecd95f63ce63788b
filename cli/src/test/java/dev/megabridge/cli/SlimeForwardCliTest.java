package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code forward}, {@code generate} and {@code verify} from checkpoints of slime's native schema ({@code import --schema slime}):
 * shards (TP 2 with EP 2, vocabulary padded) and torch_dist give the logits of the HF folder bit for bit.
 */
class SlimeForwardCliTest {

  @TempDir
  Path temp;

  static Stream<Arguments> slimeImports() {
    return Stream.of(
        Arguments.of("qwen35_moe_vl", List.of("--tp", "2", "--ep", "2", "--pad-vocab-to", "1100")),
        Arguments.of("qwen35_dense_vl", List.of("--tp", "2", "--pp", "2")),
        Arguments.of("qwen35_moe_vl_packed_bf16", List.of("--format", "torch_dist", "--tp", "2", "--ep", "2",
            "--pad-vocab-to", "1100")),
        Arguments.of("qwen35_dense_vl", List.of("--format", "torch_dist", "--tp", "2")));
  }

  private static Path writeInputs(SafetensorsCheckpoint reference, Path file) {
    SafetensorsWriter.writeFile(file, List.of(
        new SafetensorsWriter.Entry("input_ids", reference.tensor("image.input_ids")),
        new SafetensorsWriter.Entry("pixel_values", reference.tensor("image.pixel_values")),
        new SafetensorsWriter.Entry("image_grid_thw", reference.tensor("image.image_grid_thw"))), bytes -> {});
    return file;
  }

  private static float[] floats(Path file, String name) {
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.openFiles(file.getParent(), List.of(file))) {
      return written.tensor(name).toFloatArray();
    }
  }

  /** The greedy tokens {@code generate} prints for {@code model} (8 new tokens after {@code promptIds}). */
  private static List<Long> generated(Path model, String promptIds) throws IOException {
    Run generate = run("generate", model.toString(), "--prompt-ids", promptIds, "--max-new-tokens", "8", "--threads",
        "2", "--json", "--quiet");
    assertThat(generate.exitCode()).as(generate.err()).isZero();
    List<Long> tokens = new ArrayList<>();
    Output.JSON.readTree(generate.out()).get("tokens").forEach(token -> tokens.add(token.asLong()));
    assertThat(tokens).hasSize(8);
    return tokens;
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("slimeImports")
  void forwardAndVerifyFromSlimeCheckpointsEqualTheHfFolder(String model, List<String> layout) throws IOException {
    Path converted = temp.resolve("slime");
    List<String> arguments = new ArrayList<>(List.of("import", fixture(model).toString(), converted.toString(),
        "--schema", "slime", "--quiet"));
    arguments.addAll(layout);
    Run imported = run(arguments.toArray(String[]::new));
    assertThat(imported.exitCode()).as(imported.err()).isZero();

    Path inputs;
    String promptIds;
    String referenceName = model.startsWith("qwen35_moe") ? "qwen35_moe_vl" : "qwen35_dense_vl";
    try (SafetensorsCheckpoint reference = CliFixtures.reference(referenceName)) {
      inputs = writeInputs(reference, temp.resolve("inputs.safetensors"));
      promptIds = Arrays.stream(CliFixtures.longs(reference, "text.input_ids")).mapToObj(Long::toString)
          .collect(Collectors.joining(","));
    }
    Path fromHf = temp.resolve("hf-logits.safetensors");
    Path fromSlime = temp.resolve("slime-logits.safetensors");
    assertThat(run("forward", fixture(model).toString(), "--inputs", inputs.toString(), "--out", fromHf.toString(),
        "--threads", "2", "--quiet").exitCode()).isZero();
    Run forward = run("forward", converted.toString(), "--inputs", inputs.toString(), "--out", fromSlime.toString(),
        "--threads", "2", "--json", "--quiet");
    assertThat(forward.exitCode()).as(forward.err()).isZero();
    assertThat(Output.JSON.readTree(forward.out()).get("vocabulary").asInt()).isEqualTo(1024);
    assertThat(Output.JSON.readTree(forward.out()).get("source").asText()).endsWith(", slime schema");
    for (String name : List.of("logits", "mtp_logits")) {
      assertThat(floats(fromSlime, name)).as(name).isEqualTo(floats(fromHf, name));
    }

    assertThat(generated(converted, promptIds)).as("greedy tokens").isEqualTo(generated(fixture(model), promptIds));

    Run logprobs = run("verify", fixture(model).toString(), converted.toString(), "--tolerance", "0", "--json",
        "--quiet");
    assertThat(logprobs.exitCode()).as(logprobs.err()).isZero();
    JsonNode report = Output.JSON.readTree(logprobs.out());
    assertThat(report.get("max_abs_logprob_diff").asDouble()).isZero();
    Run weights = run("verify", fixture(model).toString(), converted.toString(), "--weights", "--json", "--quiet");
    assertThat(weights.exitCode()).as(weights.err()).isZero();
    JsonNode weightReport = Output.JSON.readTree(weights.out());
    assertThat(weightReport.get("different").asInt()).isZero();
    assertThat(weightReport.get("identical").asInt()).isEqualTo(weightReport.get("tensors").asInt()).isPositive();
  }
}
