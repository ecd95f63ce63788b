package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.convert.CheckpointComparison;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code examples/geo3k_vlm/run_geo3k_qwen35.sh} with {@code DRY_RUN=1}: on the tiny dense and MoE models the CPU
 * steps run for real (inspect, import, verify, export, verify --weights) and the printed slime command carries the
 * model arguments {@code provider} gives and the paths step 2 wrote; on the real configs (config-only folders) the
 * commands, model arguments and per-rank plans are printed. Runs the script with bash and this build's classes.
 */
class Geo3kExampleTest {

  private static final Path ROOT = Path.of(System.getProperty("megabridge.root"));
  private static final Path SCRIPT = ROOT.resolve("examples/geo3k_vlm/run_geo3k_qwen35.sh");

  @org.junit.jupiter.api.io.TempDir
  Path temp;

  /** Output and exit code of one script run. */
  record ScriptRun(int exitCode, String output) {}

  /** A launcher that runs this build's CLI classes, as {@code ./megabridge} runs the shaded jar. */
  private Path launcher() throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Path file = temp.resolve("megabridge");
    Files.writeString(file, "#!/usr/bin/env bash\nexec '" + java + "' --add-modules jdk.incubator.vector "
        + "--enable-native-access=ALL-UNNAMED -Xmx1g -cp '" + System.getProperty("java.class.path")
        + "' dev.megabridge.cli.Main \"$@\" 2> >(grep -v 'Using incubator modules' >&2)\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    return file;
  }

  private ScriptRun runScript(Path modelDir, Path workDir, String mode) throws Exception {
    ProcessBuilder builder = new ProcessBuilder("bash", SCRIPT.toString()).redirectErrorStream(true);
    builder.environment().put("DRY_RUN", "1");
    builder.environment().put("MODEL_DIR", modelDir.toString());
    builder.environment().put("WORK_DIR", workDir.toString());
    builder.environment().put("MODE", mode);
    builder.environment().put("NUM_GPUS", "8");
    builder.environment().put("MEGABRIDGE", launcher().toString());
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(10, TimeUnit.MINUTES)).isTrue();
    return new ScriptRun(process.exitValue(), output);
  }

  /** The model arguments {@code provider} prints for the schema of {@code mode}. */
  private static List<String> providerArguments(Path modelDir, String mode) {
    CliFixtures.Run run = CliFixtures.execute("provider", modelDir.toString(), "--schema",
        mode.equals("native") ? "slime" : "megatron-bridge", "--format", "megatron-args");
    assertThat(run.exitCode()).isZero();
    return Arrays.asList(run.stdout().trim().split(" "));
  }

  private static List<String> trainArguments(Path workDir) throws IOException {
    return Files.readAllLines(workDir.resolve("train.args"));
  }

  private static String after(List<String> arguments, String flag) {
    int index = arguments.indexOf(flag);
    assertThat(index).as(flag).isNotNegative();
    return arguments.get(index + 1);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"qwen35_dense_vl_bf16, native", "qwen35_dense_vl_bf16, bridge", "qwen35_moe_vl_packed_bf16, native",
      "qwen35_moe_vl_packed_bf16, bridge"})
  void dryRunOnTinyModelsRunsTheCpuSteps(String model, String mode) throws Exception {
    // The example's verify step encodes text prompts: the model folder needs its tokenizer.
    Path modelDir = temp.resolve("model");
    Files.createDirectories(modelDir);
    try (var files = Files.list(CliFixtures.tiny().resolve(model))) {
      for (Path file : files.toList()) {
        Files.copy(file, modelDir.resolve(file.getFileName()));
      }
    }
    Files.copy(CliFixtures.tiny().getParent().resolve("tokenizer-tiny/tokenizer.json"),
        modelDir.resolve("tokenizer.json"));
    Path workDir = temp.resolve("work");
    ScriptRun run = runScript(modelDir, workDir, mode);
    assertThat(run.exitCode()).as(run.output()).isZero();

    boolean moe = model.contains("moe");
    Path torchDist = workDir.resolve("torch_dist");
    assertThat(torchDist.resolve("latest_checkpointed_iteration.txt")).exists();
    JsonOf inspected = JsonOf.of(CliFixtures.execute("inspect", torchDist.toString(), "--json").stdout());
    assertThat(inspected.text("schema")).isEqualTo(mode.equals("native") ? "slime" : "megatron-bridge");
    assertThat(workDir.resolve("verify-import.ok")).exists();
    assertThat(run.output()).contains("the two checkpoints agree", "weights: identical to " + modelDir,
        "(dry run: not started)");
    assertThat(CheckpointComparison.compare(modelDir, workDir.resolve("hf-trained")).differences()).isEmpty();

    List<String> train = trainArguments(workDir);
    List<String> modelArguments = providerArguments(modelDir, mode);
    assertThat(modelArguments).isNotEmpty();
    assertThat(train).containsSubsequence(modelArguments);
    assertThat(String.join("\u0000", train)).contains(String.join("\u0000", modelArguments));
    assertThat(after(train, "--load")).isEqualTo(torchDist.toString());
    assertThat(after(train, "--ref-load")).isEqualTo(torchDist.toString());
    assertThat(after(train, "--hf-checkpoint")).isEqualTo(modelDir.toString());
    assertThat(after(train, "--tensor-model-parallel-size")).isEqualTo("2");
    assertThat(after(train, "--multimodal-keys")).isEqualTo("{\"image\": \"images\"}");
    assertThat(train.contains("--megatron-to-hf-mode")).isEqualTo(mode.equals("bridge"));
    assertThat(train.contains("--expert-model-parallel-size")).isEqualTo(moe);
    assertThat(train.contains("--sglang-speculative-algorithm")).isEqualTo(moe);
    if (moe) {
      assertThat(train).containsSubsequence("--sglang-cuda-graph-bs", "1", "2", "4", "8", "16", "24", "256");
      assertThat(after(train, "--sglang-speculative-algorithm")).isEqualTo("NEXTN");
      assertThat(after(train, "--expert-model-parallel-size")).isEqualTo("8");
      assertThat(after(train, "--expert-tensor-parallel-size")).isEqualTo("1");
    }

    // A second run finds every output and skips every step.
    ScriptRun again = runScript(modelDir, workDir, mode);
    assertThat(again.exitCode()).as(again.output()).isZero();
    assertThat(again.output()).contains("(skipped: " + torchDist + " exists)",
        "(skipped: " + workDir.resolve("verify-import.ok") + " exists)");
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource({"Qwen3.5-9B, native", "Qwen3.5-27B, native", "Qwen3.5-35B-A3B, native", "Qwen3.5-35B-A3B, bridge"})
  void dryRunOnRealConfigsPrintsTheRun(String model, String mode) throws Exception {
    Path modelDir = ROOT.resolve("fixtures/qwen35-configs").resolve(model);
    Path workDir = temp.resolve("work");
    ScriptRun run = runScript(modelDir, workDir, mode);
    assertThat(run.exitCode()).as(run.output()).isZero();
    boolean moe = model.contains("A3B");
    String layout = moe ? "--tp 2 --ep 8 --etp 1" : "--tp 2";
    assertThat(run.output()).contains("training layout: " + layout, "ranks: " + (moe ? 16 : 2),
        "import " + modelDir + " " + workDir.resolve("torch_dist") + " --format torch_dist --schema "
            + (mode.equals("native") ? "slime" : "megatron-bridge") + " " + layout,
        "(not run: " + modelDir + " holds no weights, only a config)");
    assertThat(workDir.resolve("torch_dist")).doesNotExist();
    List<String> train = trainArguments(workDir);
    assertThat(String.join("\u0000", train)).contains(String.join("\u0000", providerArguments(modelDir, mode)));
    if (mode.equals("native")) {
      // slime's own VL model (spec §1.2), whatever the size.
      assertThat(train).containsSubsequence("--spec", "slime_plugins.models.qwen3_5_vl", "get_qwen3_5_vl_model_provider");
    } else {
      assertThat(train).contains("--megatron-to-hf-mode").doesNotContain("--spec");
    }
    List<String> expertFlags = new ArrayList<>(List.of("--expert-model-parallel-size", "8",
        "--expert-tensor-parallel-size", "1"));
    if (moe) {
      assertThat(train).containsSubsequence(expertFlags);
    } else {
      assertThat(train).doesNotContain("--expert-model-parallel-size");
    }
  }

  /** Minimal access to a JSON report. */
  private record JsonOf(com.fasterxml.jackson.databind.JsonNode node) {
    static JsonOf of(String text) throws IOException {
      return new JsonOf(Output.JSON.readTree(text));
    }

    String text(String key) {
      return node.path(key).asText();
    }
  }
}
