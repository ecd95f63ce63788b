package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.convert.torchdist.TorchDistSidecar;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --schema slime} through the commands: import, inspect, export, convert between schemas, roundtrip. */
class SlimeSchemaCliTest {

  @TempDir
  Path temp;

  private static Path fixture(String name) {
    return CliFixtures.tiny().resolve(name);
  }

  private static CliFixtures.Run ok(String... args) {
    CliFixtures.Run run = CliFixtures.execute(args);
    assertThat(run.exitCode()).as(String.join(" ", args) + "\n" + run.stdout()).isZero();
    return run;
  }

  @Test
  void importInspectExportAndConvertBetweenSchemas() throws Exception {
    // F32 weights: without our sidecar nothing records values that slime's BF16 storage would round.
    Path hf = fixture("qwen35_moe_vl");
    Path shards = temp.resolve("slime-shards");
    assertThat(ok("import", hf.toString(), shards.toString(), "--schema", "slime", "--tp", "2", "--ep", "2",
        "--pad-vocab-to", "1040", "--quiet").stdout()).contains("slime schema");
    JsonNode inspected = Output.JSON.readTree(ok("inspect", shards.toString(), "--json").stdout());
    assertThat(inspected.path("schema").asText()).isEqualTo("slime");

    Path exported = temp.resolve("hf");
    assertThat(ok("export", shards.toString(), exported.toString(), "--quiet").stdout())
        .contains("(shards, slime schema)");
    assertThat(CheckpointComparison.compare(hf, exported).differences()).isEmpty();

    // slime shards → Megatron-Bridge torch_dist → slime torch_dist → HF.
    Path mbTorchDist = temp.resolve("mb-td");
    assertThat(ok("convert", shards.toString(), mbTorchDist.toString(), "--format", "torch_dist", "--quiet").stdout())
        .contains("torch_dist (megatron-bridge schema)");
    Path slimeTorchDist = temp.resolve("slime-td");
    ok("convert", mbTorchDist.toString(), slimeTorchDist.toString(), "--format", "torch_dist", "--schema", "slime",
        "--tp", "2", "--quiet");
    // As slime would hand it over: no sidecar, the HF folder given for the config.
    Files.delete(slimeTorchDist.resolve("release").resolve(TorchDistSidecar.FILE_NAME));
    Path exportedTd = temp.resolve("hf-td");
    assertThat(ok("export", slimeTorchDist.toString(), exportedTd.toString(), "--hf-config", hf.toString(), "--quiet")
        .stdout()).contains("(torch_dist, slime schema)");
    assertThat(CheckpointComparison.compare(hf, exportedTd).differences()).isEmpty();
  }

  @Test
  void roundtripAndHfInspectTakeTheSchema() throws Exception {
    Path hf = fixture("qwen35_dense_vl_bf16");
    JsonNode roundtrip = Output.JSON.readTree(ok("roundtrip", hf.toString(), "--schema", "slime", "--tp", "2",
        "--pp", "2", "--work", temp.toString(), "--json").stdout());
    assertThat(roundtrip.path("identical").asBoolean()).isTrue();
    assertThat(roundtrip.path("schema").asText()).isEqualTo("slime");
    JsonNode plan = Output.JSON.readTree(ok("inspect", hf.toString(), "--schema", "slime", "--tp", "2", "--json")
        .stdout());
    assertThat(plan.path("schema").asText()).isEqualTo("slime");
    JsonNode megatronBridgePlan = Output.JSON.readTree(ok("inspect", hf.toString(), "--tp", "2", "--json").stdout());
    // Per rank: the Gated DeltaNet's 10 tensors instead of 7 in each of the 6 GDN layers; same bytes per layer are not
    // expected (slime keeps them whole on every rank).
    assertThat(plan.path("ranks").get(0).path("tensors").asInt())
        .isEqualTo(megatronBridgePlan.path("ranks").get(0).path("tensors").asInt() + 6 * 3);
  }

  @Test
  void contradictoryOrMisplacedOptionsAreRefused() {
    Path hf = fixture("qwen35_dense_vl_bf16");
    String out = temp.resolve("out").toString();
    assertThat(CliFixtures.execute("import", hf.toString(), out, "--pad-vocab-to", "1040", "--quiet").exitCode())
        .isEqualTo(2);
    assertThat(CliFixtures.execute("import", hf.toString(), out, "--schema", "slime", "--mtp-naming", "current",
        "--quiet").exitCode()).isEqualTo(2);
    assertThat(CliFixtures.execute("import", hf.toString(), out, "--schema", "slime", "--pad-vocab-to", "1040",
        "--no-pad-vocab", "--quiet").exitCode()).isEqualTo(2);
    assertThat(CliFixtures.execute("import", hf.toString(), out, "--schema", "nemo", "--quiet").exitCode()).isEqualTo(2);
    assertThat(Files.exists(temp.resolve("out"))).isFalse();
  }
}
