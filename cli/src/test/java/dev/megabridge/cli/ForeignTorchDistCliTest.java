package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.torchdist.TorchDistReader;
import dev.megabridge.core.tensor.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Through the CLI: {@code export} of a torch_dist checkpoint Megatron wrote (ours, float32, with the sidecar
 * deleted) with {@code --hf-config}, {@code --dtype source|keep} and {@code --experts packed|per-expert}; and
 * {@code --common-state legacy|sharded} on {@code import --format torch_dist} and {@code convert}.
 */
class ForeignTorchDistCliTest {

  private static final String PER_EXPERT_WEIGHT = ".*\\.experts\\.\\d+\\..*";

  @TempDir
  Path temp;

  private static Path fixture(String name) {
    return CliFixtures.tiny().resolve(name);
  }

  private static CliFixtures.Run run(String... args) {
    return CliFixtures.execute(args);
  }

  private static void assertOk(CliFixtures.Run run) {
    assertThat(run.exitCode()).as(run.stdout()).isZero();
  }

  /** {@code fixture} imported as torch_dist, then made to look like Megatron's own save: no sidecar, no hf/. */
  private Path megatronSave(String fixture) {
    Path save = temp.resolve("save");
    assertOk(run("import", fixture(fixture).toString(), save.toString(), "--format", "torch_dist", "--quiet"));
    deleteTree(save.resolve("release/megabridge-torchdist.json"));
    deleteTree(save.resolve("release/hf"));
    return save;
  }

  @Test
  void exportOfAMegatronSaveFollowsTheHfFolder() throws IOException {
    Path save = megatronSave("qwen35_moe_vl");
    Path packed = fixture("qwen35_moe_vl_packed_bf16");
    Path exported = temp.resolve("hf");
    assertOk(run("export", save.toString(), exported.toString(), "--hf-config", packed.toString(), "--quiet"));
    assertThat(CheckpointComparison.compare(packed, exported).differences()).isEmpty();
    assertThat(Files.mismatch(packed.resolve("model.safetensors"), exported.resolve("model.safetensors")))
        .isEqualTo(-1L);

    // --dtype keep: what Megatron stored (float32 here), the folder's names and expert layout.
    Path kept = temp.resolve("kept");
    assertOk(run("export", save.toString(), kept.toString(), "--hf-config", packed.toString(), "--dtype", "keep",
        "--quiet"));
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(kept);
        SafetensorsCheckpoint source = SafetensorsCheckpoint.open(packed)) {
      assertThat(written.names()).isEqualTo(source.names());
      assertThat(written.names()).allMatch(name -> written.dtype(name) == DType.F32);
    }

    // --experts replaces the folder's layout: the packed folder's export unpacked is the per-expert fixture.
    Path perExpert = fixture("qwen35_moe_vl_bf16");
    assertOk(run("export", save.toString(), temp.resolve("y").toString(), "--hf-config", packed.toString(),
        "--experts", "per-expert", "--quiet"));
    assertThat(CheckpointComparison.compare(perExpert, temp.resolve("y")).differences()).isEmpty();
  }

  @Test
  void exportWithAConfigOnlyFolderUsesTheConfigDtypeAndTheChosenExpertLayout() throws IOException {
    Path save = megatronSave("qwen35_moe_vl");
    Path configOnly = temp.resolve("config-only");
    Files.createDirectories(configOnly);
    for (String name : new String[] {"config.json", "generation_config.json", "preprocessor_config.json"}) {
      Files.copy(fixture("qwen35_moe_vl_bf16").resolve(name), configOnly.resolve(name));
    }
    Path perExpert = temp.resolve("per-expert");
    assertOk(run("export", save.toString(), perExpert.toString(), "--hf-config", configOnly.toString(), "--quiet"));
    assertThat(CheckpointComparison.compare(fixture("qwen35_moe_vl_bf16"), perExpert).differences()).isEmpty();

    Path packed = temp.resolve("packed");
    assertOk(run("export", save.toString(), packed.toString(), "--hf-config", configOnly.toString(), "--experts",
        "packed", "--quiet"));
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(packed)) {
      assertThat(written.names()).noneMatch(name -> name.matches(PER_EXPERT_WEIGHT));
      assertThat(written.names()).contains("mtp.layers.0.mlp.experts.gate_up_proj",
          "model.language_model.layers.0.mlp.experts.down_proj");
      assertThat(written.names().stream().filter(name -> written.dtype(name) == DType.F32))
          .hasSize(12).allMatch(name -> name.endsWith("linear_attn.A_log") || name.endsWith("linear_attn.norm.weight"));
      assertThat(written.names()).allMatch(name -> written.dtype(name) == DType.F32 || written.dtype(name) == DType.BF16);
    }

    CliFixtures.Run badChoice = run("export", save.toString(), temp.resolve("x").toString(), "--hf-config",
        configOnly.toString(), "--experts", "grouped", "--json");
    assertThat(badChoice.exitCode()).isEqualTo(2);
    CliFixtures.Run badDtype = run("export", save.toString(), temp.resolve("x").toString(), "--hf-config",
        configOnly.toString(), "--dtype", "fp8", "--json");
    assertThat(badDtype.exitCode()).isEqualTo(2);
    assertThat(temp.resolve("x")).doesNotExist();
  }

  /** {@code --experts} on the other sources: shards (per-expert source packed), our torch_dist, an HF folder. */
  @Test
  void expertsRelaysOutEverySource() {
    Path perExpert = fixture("qwen35_moe_vl_bf16");
    Path packedFixture = fixture("qwen35_moe_vl_packed_bf16");
    Path shards = temp.resolve("shards");
    assertOk(run("import", perExpert.toString(), shards.toString(), "--tp", "2", "--ep", "2", "--quiet"));
    Path fromShards = temp.resolve("from-shards");
    assertOk(run("export", shards.toString(), fromShards.toString(), "--experts", "packed", "--quiet"));
    assertPackedEverywhereMainAsFixture(packedFixture, fromShards);

    Path save = temp.resolve("save");
    assertOk(run("import", packedFixture.toString(), save.toString(), "--format", "torch_dist", "--quiet"));
    Path fromTorchDist = temp.resolve("from-torch-dist");
    assertOk(run("export", save.toString(), fromTorchDist.toString(), "--experts", "per-expert", "--quiet"));
    assertThat(CheckpointComparison.compare(perExpert, fromTorchDist).differences()).isEmpty();

    Path fromHf = temp.resolve("from-hf");
    assertOk(run("export", packedFixture.toString(), fromHf.toString(), "--experts", "per-expert", "--quiet"));
    assertThat(CheckpointComparison.compare(perExpert, fromHf).differences()).isEmpty();
  }

  private static void assertPackedEverywhereMainAsFixture(Path packedFixture, Path exported) {
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(exported);
        SafetensorsCheckpoint fixture = SafetensorsCheckpoint.open(packedFixture)) {
      assertThat(written.names()).noneMatch(name -> name.matches(PER_EXPERT_WEIGHT));
      assertThat(written.names()).contains("mtp.layers.0.mlp.experts.gate_up_proj");
      for (String name : fixture.names()) {
        if (!name.startsWith("mtp.layers.0.mlp.experts.")) {
          assertThat(written.tensor(name).toByteArray()).as(name).isEqualTo(fixture.tensor(name).toByteArray());
        }
      }
    }
  }

  @Test
  void commonStateShardedOnImportAndConvert() throws IOException {
    Path hf = fixture("qwen35_dense_vl_bf16");
    Path save = temp.resolve("save");
    assertOk(run("import", hf.toString(), save.toString(), "--format", "torch_dist", "--common-state", "sharded",
        "--quiet"));
    assertShardedCommonState(save.resolve("release"));
    assertOk(run("export", save.toString(), temp.resolve("hf").toString(), "--quiet"));
    assertThat(CheckpointComparison.compare(hf, temp.resolve("hf")).differences()).isEmpty();

    Path converted = temp.resolve("converted");
    assertOk(run("convert", save.toString(), converted.toString(), "--format", "torch_dist", "--common-state",
        "sharded", "--quiet"));
    assertShardedCommonState(converted.resolve("release"));
    Path legacy = temp.resolve("legacy");
    assertOk(run("convert", converted.toString(), legacy.toString(), "--format", "torch_dist", "--quiet"));
    assertThat(legacy.resolve("release/common.pt")).exists();

    assertThat(run("import", hf.toString(), temp.resolve("x").toString(), "--common-state", "sharded", "--json")
        .exitCode()).isEqualTo(2);
    assertThat(run("convert", save.toString(), temp.resolve("x").toString(), "--format", "shards", "--common-state",
        "legacy", "--json").exitCode()).isEqualTo(2);
    assertThat(run("import", hf.toString(), temp.resolve("x").toString(), "--format", "torch_dist", "--common-state",
        "dcp", "--json").exitCode()).isEqualTo(2);
    assertThat(temp.resolve("x")).doesNotExist();
  }

  private static void assertShardedCommonState(Path release) throws IOException {
    assertThat(release.resolve("common.pt")).doesNotExist();
    assertThat(Files.readString(release.resolve("metadata.json")))
        .isEqualTo("{\"sharded_backend\": \"torch_dist\", \"sharded_backend_version\": 1}");
    try (TorchDistReader reader = TorchDistReader.open(release)) {
      assertThat(reader.metadata().stateDictMetadata()).containsKey("common_state/shard_0_1");
      assertThat(reader.commonState()).isPresent();
    }
  }

  private static void deleteTree(Path root) {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
