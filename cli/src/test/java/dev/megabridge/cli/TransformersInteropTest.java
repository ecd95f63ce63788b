package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * What megabridge exports loads in transformers: HF → Megatron shards (TP 2, PP 2, EP 2 for MoE) → HF, then
 * transformers' {@code from_pretrained} on the export (in a Python venv the script creates from the
 * machine's local package index) reproduces the stored transformers reference logits.
 */
class TransformersInteropTest {

  @TempDir
  Path temp;

  @ParameterizedTest(name = "{0}")
  @CsvSource({"qwen35_dense_vl, 1", "qwen35_moe_vl, 2"})
  void exportLoadsInTransformersWithReferenceLogits(String model, int ep) throws IOException, InterruptedException {
    Path shards = temp.resolve("shards");
    Path exported = temp.resolve("hf");
    assertThat(CliTest.run("import", CliTest.fixture(model).toString(), shards.toString(), "--tp", "2", "--pp", "2",
        "--ep", Integer.toString(ep), "--quiet").exitCode()).isZero();
    assertThat(CliTest.run("export", shards.toString(), exported.toString(), "--quiet").exitCode()).isZero();
    Path root = Path.of(System.getProperty("megabridge.root", ".."));
    Path reference = CliTest.fixture("reference").resolve(model).resolve("reference.safetensors");
    Path log = temp.resolve("python.log");
    Process process = new ProcessBuilder("bash", root.resolve("scripts/interop/transformers_load.sh").toString(),
        exported.toString(), reference.toString(), "2e-4").redirectError(log.toFile()).start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(20, TimeUnit.MINUTES)).isTrue();
    // Skipping is allowed for one reason only: the machine has no python3 at all (exit 3).
    Assumptions.assumeTrue(process.exitValue() != 3, "no python3 on this machine");
    assertThat(process.exitValue()).as(out + Files.readString(log)).isZero();
    JsonNode report = Output.JSON.readTree(out.lines().filter(line -> line.startsWith("{")).reduce((a, b) -> b)
        .orElseThrow());
    assertThat(report.get("class").asText()).startsWith("Qwen3_5");
    assertThat(report.get("cases").get("text").asDouble()).isLessThanOrEqualTo(2e-4);
    assertThat(report.get("max_abs").asDouble()).isLessThanOrEqualTo(2e-4);
  }
}
