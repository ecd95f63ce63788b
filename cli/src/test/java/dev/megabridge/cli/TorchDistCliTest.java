package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.convert.CheckpointComparison;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code import --format torch_dist}, {@code export} of torch_dist and {@code convert}, end to end through the CLI. */
class TorchDistCliTest {

  @TempDir
  Path temp;

  private static Path fixture(String name) {
    String configured = System.getProperty("megabridge.fixtures");
    Path root = configured != null ? Path.of(configured) : Path.of("..", "fixtures");
    return root.resolve("qwen35-tiny").resolve(name);
  }

  /** Exit code, stdout and stderr of one command line. */
  record Run(int exitCode, String out, String err) {}

  private static Run run(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(outBytes, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(errBytes, true, StandardCharsets.UTF_8));
      int code = Main.execute(args);
      return new Run(code, outBytes.toString(StandardCharsets.UTF_8), errBytes.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  private static void assertIdentical(Path expected, Path actual) {
    assertThat(CheckpointComparison.compare(expected, actual).differences()).isEmpty();
  }

  @Test
  void importExportConvertRoundTrip() throws Exception {
    Path hf = fixture("qwen35_moe_vl_packed_bf16");
    Path save = temp.resolve("save");
    Run imported = run("import", hf.toString(), save.toString(), "--format", "torch_dist", "--tp", "2", "--ep", "4",
        "--quiet");
    assertThat(imported.exitCode()).as(imported.err()).isZero();
    assertThat(imported.out()).contains("torch_dist", "TP=1; requested tp2-pp1-vpp1-ep4-etp2");
    assertThat(Files.readString(save.resolve("latest_checkpointed_iteration.txt"))).isEqualTo("release");

    Run exported = run("export", save.toString(), temp.resolve("hf").toString(), "--json");
    assertThat(exported.exitCode()).as(exported.err()).isZero();
    assertThat(exported.out()).contains("\"format\" : \"torch_dist\"", "\"tensors\" : 215");
    assertIdentical(hf, temp.resolve("hf"));

    Run toShards = run("convert", save.toString(), temp.resolve("shards").toString(), "--format", "shards", "--tp", "2",
        "--pp", "2", "--ep", "2", "--quiet");
    assertThat(toShards.exitCode()).as(toShards.err()).isZero();
    Run toTorchDist = run("convert", temp.resolve("shards").toString(), temp.resolve("save2").toString(), "--format",
        "torch_dist", "--quiet");
    assertThat(toTorchDist.exitCode()).as(toTorchDist.err()).isZero();
    Run exportedAgain = run("export", temp.resolve("save2/release").toString(), temp.resolve("hf2").toString(), "--quiet");
    assertThat(exportedAgain.exitCode()).as(exportedAgain.err()).isZero();
    assertIdentical(hf, temp.resolve("hf2"));
  }

  @Test
  void existingOutputIsRefusedUnlessOverwrite() throws Exception {
    Path hf = fixture("qwen35_dense_vl");
    Path save = temp.resolve("save");
    assertThat(run("import", hf.toString(), save.toString(), "--format", "torch_dist", "--quiet").exitCode()).isZero();
    long modified = Files.getLastModifiedTime(save.resolve("release/.metadata")).toMillis();
    Run refused = run("import", hf.toString(), save.toString(), "--format", "torch_dist", "--quiet");
    assertThat(refused.exitCode()).isEqualTo(2);
    assertThat(refused.err().strip().lines()).anyMatch(line -> line.startsWith("error: ") && line.contains("--overwrite"));
    assertThat(Files.getLastModifiedTime(save.resolve("release/.metadata")).toMillis()).isEqualTo(modified);
    assertThat(run("import", hf.toString(), save.toString(), "--format", "torch_dist", "--overwrite", "--quiet")
        .exitCode()).isZero();
    assertThat(run("convert", save.toString(), temp.resolve("hf").toString(), "--format", "shards", "--quiet")
        .exitCode()).isZero();
    assertThat(run("convert", save.toString(), temp.resolve("hf").toString(), "--format", "shards", "--quiet")
        .exitCode()).isEqualTo(2);
  }

  @Test
  void badArgumentsAndInputsExitWithOneLineErrors() throws Exception {
    Path hf = fixture("qwen35_dense_vl");
    Run badLayout = run("import", hf.toString(), temp.resolve("x").toString(), "--format", "torch_dist", "--tp", "3");
    assertThat(badLayout.exitCode()).isEqualTo(2);
    assertThat(badLayout.err()).contains("tp = 3 does not divide");
    assertThat(temp.resolve("x")).doesNotExist();
    assertThat(run("import", hf.toString(), temp.resolve("x").toString(), "--format", "torch_dist", "--ranks", "0")
        .exitCode()).isEqualTo(2);
    assertThat(run("import", hf.toString(), temp.resolve("x").toString(), "--format", "bogus").exitCode()).isEqualTo(2);

    Path save = temp.resolve("save");
    assertThat(run("import", hf.toString(), save.toString(), "--format", "torch_dist", "--quiet").exitCode()).isZero();
    assertThat(run("convert", save.toString(), temp.resolve("y").toString(), "--format", "bogus").exitCode()).isEqualTo(2);
    assertThat(run("convert", hf.toString(), temp.resolve("y").toString(), "--format", "shards").exitCode())
        .as("an HF folder is not a Megatron folder").isEqualTo(3);

    // A torch_dist checkpoint megabridge did not write needs --hf-config.
    Files.delete(save.resolve("release/megabridge-torchdist.json"));
    Run noConfig = run("export", save.toString(), temp.resolve("hf").toString());
    assertThat(noConfig.exitCode()).isEqualTo(2);
    assertThat(noConfig.err()).contains("--hf-config");
    Run withConfig = run("export", save.toString(), temp.resolve("hf").toString(), "--hf-config", hf.toString(),
        "--quiet");
    assertThat(withConfig.exitCode()).as(withConfig.err()).isZero();
    assertIdentical(hf, temp.resolve("hf"));

    // A checkpoint of another model: every missing key is named, exit 3.
    Run wrongModel = run("export", save.toString(), temp.resolve("hf2").toString(), "--hf-config",
        fixture("qwen35_moe_vl").toString());
    assertThat(wrongModel.exitCode()).isEqualTo(3);
    assertThat(wrongModel.err()).contains("keys the model needs but the checkpoint lacks",
        "mlp.experts.experts.linear_fc1.weight", "tensor keys no model parameter reads");
  }
}
