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
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --json}: snake_case keys, typed numbers and booleans, plain paths, and a JSON error object on failure. */
class JsonOutputTest {

  @TempDir
  Path temp;

  private static JsonNode json(Run run) throws IOException {
    assertThat(run.exitCode()).as(run.err()).isZero();
    return Output.JSON.readTree(run.out());
  }

  /** Every object key at any depth, except inside the provider's and the config's own maps. */
  private static List<String> keys(JsonNode node) {
    List<String> keys = new ArrayList<>();
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> fields = node.fields(); fields.hasNext(); ) {
        Map.Entry<String, JsonNode> field = fields.next();
        keys.add(field.getKey());
        keys.addAll(keys(field.getValue()));
      }
    } else if (node.isArray()) {
      node.forEach(item -> keys.addAll(keys(item)));
    }
    return keys;
  }

  @Test
  void summariesUseSnakeCaseKeysAndPlainPaths() throws IOException {
    Path shards = temp.resolve("shards");
    Path torchDist = temp.resolve("td");
    List<JsonNode> reports = List.of(
        json(run("import", fixture("qwen35_moe_vl").toString(), shards.toString(), "--tp", "2", "--json")),
        json(run("export", shards.toString(), temp.resolve("hf").toString(), "--json")),
        json(run("import", fixture("qwen35_moe_vl").toString(), torchDist.toString(), "--format", "torch_dist",
            "--json")),
        json(run("convert", torchDist.toString(), temp.resolve("shards2").toString(), "--format", "shards", "--json")),
        json(run("export", torchDist.toString(), temp.resolve("hf2").toString(), "--json")),
        json(run("inspect", shards.toString(), "--json")),
        json(run("inspect", torchDist.toString(), "--json")));
    for (JsonNode report : reports) {
      assertThat(keys(report)).as(report.toString()).allMatch(key -> key.matches("[a-z0-9_]+"));
      assertThat(report.toString()).doesNotContain("file:");
    }
    JsonNode imported = reports.getFirst().get("summary");
    assertThat(imported.get("ranks_written").isInt()).isTrue();
    assertThat(imported.get("output").asText()).isEqualTo(shards.toAbsolutePath().normalize().toString());
    assertThat(reports.get(2).get("summary").get("checkpoint_directory").asText())
        .isEqualTo(torchDist.resolve("release").toAbsolutePath().normalize().toString());
  }

  @Test
  void summaryKeysComeInAFixedOrder() throws IOException {
    JsonNode imported = json(run("import", fixture("qwen35_dense_vl").toString(), temp.resolve("s").toString(),
        "--json"));
    List<String> names = new ArrayList<>();
    imported.fieldNames().forEachRemaining(names::add);
    assertThat(names).containsExactly("command", "summary", "seconds");
    JsonNode torchDist = json(run("import", fixture("qwen35_dense_vl").toString(), temp.resolve("t").toString(),
        "--format", "torch_dist", "--json"));
    names.clear();
    torchDist.fieldNames().forEachRemaining(names::add);
    assertThat(names).containsExactly("command", "format", "summary", "seconds");
  }

  @Test
  void countsAreNumbersAndFlagsBooleans() throws IOException {
    JsonNode report = json(run("inspect", fixture("qwen35_moe_vl").toString(), "--json"));
    assertThat(report.get("layers").isInt()).isTrue();
    assertThat(report.get("hidden_size").asInt()).isEqualTo(64);
    assertThat(report.get("vocab_size").isNumber()).isTrue();
    assertThat(report.get("tie_word_embeddings").isBoolean()).isTrue();
    assertThat(report.get("experts").asInt()).isEqualTo(8);
    assertThat(report.get("experts_per_token").asInt()).isEqualTo(2);
    assertThat(report.get("mtp_layers").isInt()).isTrue();
  }

  @Test
  void aFailureWithJsonIsAJsonErrorObjectOnStdout() throws IOException {
    Path missing = temp.resolve("missing");
    Run usage = run("inspect", missing.toString(), "--json");
    assertThat(usage.exitCode()).isEqualTo(2);
    JsonNode error = Output.JSON.readTree(usage.out());
    assertThat(error.get("error").asText()).isEqualTo("folder " + missing + " does not exist");
    assertThat(error.get("exit_code").asInt()).isEqualTo(2);
    assertThat(usage.err()).contains("error: folder " + missing + " does not exist");

    Path noConfig = temp.resolve("empty");
    Files.createDirectories(noConfig);
    Run badData = run("inspect", noConfig.toString(), "--json");
    assertThat(badData.exitCode()).isEqualTo(3);
    assertThat(Output.JSON.readTree(badData.out()).get("exit_code").asInt()).isEqualTo(3);

    Run unparsable = run("import", "--json", "--tp", "x");
    assertThat(unparsable.exitCode()).isEqualTo(2);
    JsonNode parseError = Output.JSON.readTree(unparsable.out());
    assertThat(parseError.get("exit_code").asInt()).isEqualTo(2);
    assertThat(parseError.get("error").asText()).contains("--tp");
  }

  @Test
  void withoutJsonAFailurePrintsNothingOnStdout() {
    Run run = run("inspect", temp.resolve("missing").toString());
    assertThat(run.exitCode()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
  }
}
