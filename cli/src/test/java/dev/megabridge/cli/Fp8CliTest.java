package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.config.ConfigFiles;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** FP8 end to end through the CLI: export --quantize, the TP check, importing an FP8 folder, and bad FP8 input. */
class Fp8CliTest {
  private static final String QKV = "model.language_model.layers.0.linear_attn.in_proj_qkv.weight";

  @TempDir
  Path temp;

  private Path fp8;

  @BeforeEach
  void exportFp8() {
    assertThat(run("import", fixture("qwen35_dense_vl_bf16").toString(), temp.resolve("shards").toString(), "--tp", "2",
        "--quiet").exitCode()).isZero();
    fp8 = temp.resolve("fp8");
    Run export = run("export", temp.resolve("shards").toString(), fp8.toString(), "--quantize", "fp8-block",
        "--block-size", "16x32", "--quiet");
    assertThat(export.exitCode()).as(export.err()).isZero();
    assertThat(export.out()).contains("blockwise FP8, 16x32");
  }

  @Test
  void exportWritesCodesScalesAndTheQuantizationConfig() {
    Fp8Config config = Fp8Config.of(HfConfig.load(fp8)).orElseThrow();
    assertThat(config.blockRows()).isEqualTo(16);
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(fp8)) {
      assertThat(written.dtype(QKV)).isEqualTo(DType.F8_E4M3);
      assertThat(written.dtype(QKV + "_scale_inv")).isEqualTo(DType.F32);
      assertThat(written.dtype("lm_head.weight")).isEqualTo(DType.BF16);
      assertThat(config.modulesNotConverted()).contains("lm_head", "model.visual.blocks.0.attn.qkv");
    }
  }

  /**
   * roundtrip of an FP8 folder exports re-quantized with the source's block size and counts the codes and scales
   * that came back; everything else must be bit-identical. Before, it exported bf16 and listed every FP8 weight as a
   * difference (exit 3).
   */
  @Test
  void roundtripOfAnFp8FolderRequantizesAndCountsTheCodes() throws IOException {
    Run roundtrip = run("roundtrip", fp8.toString(), "--tp", "2", "--work", temp.toString(), "--json", "--quiet");
    assertThat(roundtrip.exitCode()).as(roundtrip.err()).isZero();
    JsonNode report = Output.JSON.readTree(roundtrip.out());
    assertThat(report.path("identical").asBoolean()).isTrue();
    JsonNode counts = report.path("fp8_requantized");
    assertThat(counts.path("codes").asLong()).isPositive();
    assertThat(counts.path("scales").asLong()).isPositive();
    // Dequantized to bf16 and re-quantized with the same blocks, every code and scale of the tiny model comes back.
    assertThat(counts.path("codes_identical").asLong()).isEqualTo(counts.path("codes").asLong());
    assertThat(counts.path("scales_identical").asLong()).isEqualTo(counts.path("scales").asLong());
  }

  @Test
  void theTensorParallelCheckSaysWhichSizesLoad() throws IOException {
    // Blocks of 16 rows: q / k sections of 32 rows split at TP 2 (16 each) but not at TP 4 (8 each).
    Run inspect = run("inspect", fp8.toString(), "--check-tp", "1,2,4", "--json", "--quiet");
    assertThat(inspect.exitCode()).as(inspect.err()).isZero();
    JsonNode verdicts = Output.JSON.readTree(inspect.out()).get("tp_check");
    assertThat(verdicts).extracting(verdict -> verdict.get("tp").asInt()).containsExactly(1, 2, 4);
    assertThat(verdicts.get(0).get("loads").asBoolean()).isTrue();
    assertThat(verdicts.get(2).get("loads").asBoolean()).isFalse();
    assertThat(verdicts.get(2).get("first_blocking").get(0).get("reason").asText()).contains("cut through blocks");
    Run strict = run("inspect", fp8.toString(), "--check-tp", "1,4", "--strict", "--quiet");
    assertThat(strict.exitCode()).isEqualTo(3);
    assertThat(strict.err()).contains("does not load at TP 4");
    assertThat(run("inspect", fixture("qwen35_dense_vl_bf16").toString(), "--check-tp", "2").exitCode())
        .as("not an FP8 folder").isEqualTo(2);
    assertThat(run("export", temp.resolve("shards").toString(), temp.resolve("x").toString(), "--block-size",
        "128x128").exitCode()).as("--block-size without --quantize").isEqualTo(2);
    assertThat(run("export", temp.resolve("shards").toString(), temp.resolve("x").toString(), "--quantize",
        "fp8").exitCode()).isEqualTo(2);
  }

  @Test
  void anFp8FolderImportsAsBf16AndExportsWithoutTheQuantizationConfig() {
    Run imported = run("import", fp8.toString(), temp.resolve("again").toString(), "--tp", "2", "--quiet");
    assertThat(imported.exitCode()).as(imported.err()).isZero();
    assertThat(run("export", temp.resolve("again").toString(), temp.resolve("plain").toString(), "--quiet")
        .exitCode()).isZero();
    assertThat(HfConfig.load(temp.resolve("plain")).raw().has(Fp8Config.KEY)).isFalse();
    try (SafetensorsCheckpoint plain = SafetensorsCheckpoint.open(temp.resolve("plain"))) {
      assertThat(plain.dtype(QKV)).isEqualTo(DType.BF16);
      assertThat(plain.contains(QKV + "_scale_inv")).isFalse();
    }
  }

  @Test
  void badFp8InputIsNamed() throws IOException {
    Path unknownFormat = copy("unknown-format");
    ConfigFiles.rewrite(unknownFormat.resolve("config.json"),
        root -> ((ObjectNode) root.get(Fp8Config.KEY)).put("fmt", "e5m2"));
    Run format = run("import", unknownFormat.toString(), temp.resolve("o1").toString(), "--quiet");
    assertThat(format.exitCode()).isEqualTo(3);
    assertThat(format.err()).contains("quantization_config.fmt").contains("e5m2");

    Path noScale = copy("no-scale");
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(fp8)) {
      List<SafetensorsWriter.Entry> entries = written.names().stream().filter(name -> !name.equals(QKV + "_scale_inv"))
          .map(name -> new SafetensorsWriter.Entry(name, written.tensor(name))).toList();
      Files.delete(noScale.resolve("model.safetensors"));
      SafetensorsWriter.writeFile(noScale.resolve("model.safetensors"), entries, bytes -> {});
    }
    Run scale = run("import", noScale.toString(), temp.resolve("o2").toString(), "--quiet");
    assertThat(scale.exitCode()).isEqualTo(3);
    assertThat(scale.err()).contains("'" + QKV + "' has no scale");
    assertThat(temp.resolve("o1")).doesNotExist();
    assertThat(temp.resolve("o2")).doesNotExist();
  }

  @Test
  void anHfFolderQuantizesDirectlyToTheSameBytes() throws IOException {
    Path direct = temp.resolve("direct");
    Run run = run("export", fixture("qwen35_dense_vl_bf16").toString(), direct.toString(), "--quantize", "fp8-block",
        "--block-size", "16x32", "--quiet");
    assertThat(run.exitCode()).as(run.err()).isZero();
    assertThat(run.out()).contains("(hf)");
    assertThat(Files.readAllBytes(direct.resolve("model.safetensors")))
        .isEqualTo(Files.readAllBytes(fp8.resolve("model.safetensors")));
    assertThat(Files.readString(direct.resolve("config.json"))).isEqualTo(Files.readString(fp8.resolve("config.json")));
  }

  private Path copy(String name) throws IOException {
    return CliTest.copyFolder(fp8, temp.resolve(name));
  }
}
