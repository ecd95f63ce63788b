package dev.megabridge.qwen35.torchdist;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.HfExpertLayout;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.torchdist.TorchDistCheckpoint.HfView;
import dev.megabridge.core.convert.torchdist.TorchDistSidecar;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Export of a torch_dist checkpoint Megatron wrote (no sidecar of ours), given {@code --hf-config}: made here from
 * our own float32 import with the sidecar deleted, as a Megatron fp32 master-precision save looks. The export
 * follows the HF folder's weights (dtypes, expert layout, file split, order) when it has them, else the config's
 * dtype with the float32-by-design tensors and the requested expert layout; {@code storedDtypes} keeps what was
 * stored.
 */
class TorchDistForeignExportTest {

  private static final String PER_EXPERT_WEIGHT = ".*\\.experts\\.\\d+\\..*";

  private static final AutoBridge AUTO_BRIDGE = AutoBridge.discover();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern PACKED_GATE_UP = Pattern.compile("^(.*\\.mlp\\.experts\\.)gate_up_proj$");

  @TempDir
  Path temp;

  /** A float32 fixture imported as torch_dist with megabridge's sidecar removed: what Megatron itself saves. */
  private Path megatronSave(String fp32Fixture) throws IOException {
    Path save = TestCheckpoints.importTorchDist(Fixtures.tiny(fp32Fixture), temp.resolve("save"),
        ParallelLayout.single(), BridgeOptions.defaults());
    Path release = save.resolve("release");
    Files.delete(release.resolve(TorchDistSidecar.FILE_NAME));
    deleteTree(release.resolve(TorchDistSidecar.HF_FILES_DIR));
    assertThat(release.resolve(TorchDistSidecar.FILE_NAME)).doesNotExist();
    return save;
  }

  private Path export(Path save, Path hfConfig, HfView view, String name) {
    return export(save, hfConfig, view, Optional.empty(), name);
  }

  private Path export(Path save, Path hfConfig, HfView view, Optional<HfExpertLayout> experts, String name) {
    Path output = temp.resolve(name);
    CheckpointSource opened = CheckpointSource.openTorchDist(save, Optional.of(hfConfig), view, AUTO_BRIDGE);
    try (CheckpointSource source = experts.map(opened::withExperts).orElse(opened)) {
      Exporter.write(source, output, new Exporter.Options(Optional.empty(), Optional.empty(), false), AUTO_BRIDGE,
          Progress.NONE);
    }
    return output;
  }

  /**
   * Every file of {@code expected} (weights, config, small files) is in {@code actual}, byte for byte; the index
   * (which our writer spaces as Jackson does) holds the same JSON.
   */
  private static void assertSameFiles(Path expected, Path actual) throws IOException {
    List<Path> files;
    try (Stream<Path> listed = Files.list(expected)) {
      files = listed.toList();
    }
    for (Path file : files) {
      Path written = actual.resolve(file.getFileName());
      assertThat(written).as(file.getFileName().toString()).exists();
      if (file.getFileName().toString().equals(SafetensorsCheckpoint.INDEX_FILE)) {
        assertThat(JSON.readTree(written.toFile())).isEqualTo(JSON.readTree(file.toFile()));
      } else {
        assertThat(Files.mismatch(file, written)).as(file.getFileName().toString()).isEqualTo(-1L);
      }
    }
  }

  /** Same tensors bit for bit, dtypes and shapes, same files, each file holding the same names in the same order. */
  private static void assertSameFolder(Path expected, Path actual) {
    TorchDistRoundTripTest.assertIdentical(expected, actual);
    try (SafetensorsCheckpoint left = SafetensorsCheckpoint.open(expected);
        SafetensorsCheckpoint right = SafetensorsCheckpoint.open(actual)) {
      assertThat(right.names()).isEqualTo(left.names());
      for (String name : left.names()) {
        assertThat(Path.of(right.location(name)).getFileName()).as(name).isEqualTo(Path.of(left.location(name))
            .getFileName());
      }
    }
  }

  @Test
  void followsTheHfFoldersWeightsDtypesPackedExpertsAndOrder() throws IOException {
    Path save = megatronSave("qwen35_moe_vl");
    Path packed = Fixtures.tiny("qwen35_moe_vl_packed_bf16");
    Path exported = export(save, packed, HfView.ofSource(), "hf");
    // bf16 with F32 A_log / linear_attn.norm.weight, main experts packed, MTP experts per expert, as the folder.
    assertSameFolder(packed, exported);
    assertSameFiles(packed, exported);
  }

  @Test
  void followsTheHfFoldersFileSplit() throws IOException {
    Path save = megatronSave("qwen35_dense_vl");
    Path sharded = Fixtures.tiny("qwen35_dense_vl_bf16_sharded");
    Path exported = export(save, sharded, HfView.ofSource(), "hf");
    assertSameFolder(sharded, exported);
    assertSameFiles(sharded, exported);
    assertThat(exported.resolve(SafetensorsCheckpoint.INDEX_FILE)).exists();
  }

  @Test
  void storedDtypesKeepWhatMegatronStored() throws IOException {
    Path save = megatronSave("qwen35_moe_vl");
    // Names, order and expert layout from the bf16 folder, dtypes as stored: the float32 fixture.
    Path exported = export(save, Fixtures.tiny("qwen35_moe_vl_bf16"), new HfView(true), "hf");
    TorchDistRoundTripTest.assertIdentical(Fixtures.tiny("qwen35_moe_vl"), exported);
  }

  /** A --bf16 Megatron run stores A_log and linear_attn.norm.weight as bf16: they come back F32, as the HF folder has them. */
  @Test
  void bf16StoredFloat32ByDesignTensorsComeBackAsTheFoldersF32() throws IOException {
    Path bf16Fixture = Fixtures.tiny("qwen35_moe_vl_bf16");
    Path allBf16 = configOnlyCopy(bf16Fixture);
    try (SafetensorsCheckpoint fixture = SafetensorsCheckpoint.open(bf16Fixture)) {
      List<SafetensorsWriter.Entry> entries = fixture.names().stream()
          .map(name -> new SafetensorsWriter.Entry(name, fixture.tensor(name).convert(DType.BF16))).toList();
      SafetensorsWriter.writeFile(allBf16.resolve(SafetensorsCheckpoint.SINGLE_FILE), entries, bytes -> {});
    }
    Path save = TestCheckpoints.importTorchDist(allBf16, temp.resolve("save"), ParallelLayout.single(),
        BridgeOptions.defaults());
    Files.delete(save.resolve("release").resolve(TorchDistSidecar.FILE_NAME));
    deleteTree(save.resolve("release").resolve(TorchDistSidecar.HF_FILES_DIR));
    Path exported = export(save, bf16Fixture, HfView.ofSource(), "hf");
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(exported);
        SafetensorsCheckpoint fixture = SafetensorsCheckpoint.open(bf16Fixture)) {
      assertThat(written.names()).isEqualTo(fixture.names());
      int widened = 0;
      for (String name : fixture.names()) {
        Tensor expected = fixture.tensor(name);
        if (expected.dtype() == DType.F32) {
          expected = expected.convert(DType.BF16).convert(DType.F32);
          widened++;
        }
        assertSameBytes(name, expected, written.tensor(name));
      }
      assertThat(widened).isEqualTo(12);
    }
  }

  @Test
  void configOnlyFolderGivesTheConfigDtypeWithTheFloat32Exceptions() throws IOException {
    Path save = megatronSave("qwen35_moe_vl");
    Path configOnly = configOnlyCopy(Fixtures.tiny("qwen35_moe_vl_bf16"));
    Path exported = export(save, configOnly, HfView.ofSource(), "hf");
    // Per-expert (the default) in the model's order: the bf16 fixture tensor for tensor.
    TorchDistRoundTripTest.assertIdentical(Fixtures.tiny("qwen35_moe_vl_bf16"), exported);
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(exported)) {
      long float32 = written.names().stream().filter(name -> written.dtype(name) == DType.F32).count();
      assertThat(float32).isEqualTo(12);
      assertThat(written.names()).allMatch(name -> written.dtype(name) == DType.F32
          == (name.endsWith(".linear_attn.A_log") || name.endsWith(".linear_attn.norm.weight")));
    }
  }

  @Test
  void configOnlyFolderWithPackedExpertsPacksMainAndMtpExperts() throws IOException {
    Path save = megatronSave("qwen35_moe_vl");
    Path perExpert = Fixtures.tiny("qwen35_moe_vl_bf16");
    Path exported = export(save, configOnlyCopy(perExpert), HfView.ofSource(), Optional.of(HfExpertLayout.PACKED),
        "hf");
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(exported);
        SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(perExpert);
        SafetensorsCheckpoint packedFixture = SafetensorsCheckpoint.open(Fixtures.tiny("qwen35_moe_vl_packed_bf16"))) {
      assertThat(written.names()).noneMatch(name -> name.matches(PER_EXPERT_WEIGHT));
      assertThat(written.names()).hasSize(expected.names().size() - 9 * 8 * 3 + 9 * 2);
      assertThat(written.names()).anyMatch(name -> name.startsWith("mtp.") && name.endsWith("experts.gate_up_proj"));
      int packedBlocks = 0;
      for (String name : written.names()) {
        Matcher matcher = PACKED_GATE_UP.matcher(name);
        if (!matcher.matches()) {
          if (!name.endsWith("experts.down_proj")) {
            assertSameBytes(name, expected.tensor(name), written.tensor(name));
          }
          continue;
        }
        packedBlocks++;
        String prefix = matcher.group(1);
        Tensor gateUp = written.tensor(name);
        Tensor down = written.tensor(prefix + "down_proj");
        long intermediate = gateUp.shape().dim(1) / 2;
        for (long expert = 0; expert < gateUp.shape().dim(0); expert++) {
          String per = prefix + expert + ".";
          assertSameBytes(per + "gate", expected.tensor(per + "gate_proj.weight"),
              gateUp.select(expert).slice(0, 0, intermediate));
          assertSameBytes(per + "up", expected.tensor(per + "up_proj.weight"),
              gateUp.select(expert).slice(0, intermediate, intermediate));
          assertSameBytes(per + "down", expected.tensor(per + "down_proj.weight"), down.select(expert));
        }
        if (packedFixture.contains(name)) {
          assertSameBytes(name, packedFixture.tensor(name), gateUp);
          assertSameBytes(prefix + "down_proj", packedFixture.tensor(prefix + "down_proj"), down);
        }
      }
      assertThat(packedBlocks).isEqualTo(9); // 8 MoE decoder layers and the MTP layer
    }
  }

  @Test
  void aRequestedExpertLayoutReplacesTheWeightsOne() throws IOException {
    Path save = megatronSave("qwen35_moe_vl");
    // The packed folder unpacked: the per-expert bf16 fixture tensor for tensor.
    Path unpacked = export(save, Fixtures.tiny("qwen35_moe_vl_packed_bf16"), HfView.ofSource(),
        Optional.of(HfExpertLayout.PER_EXPERT), "unpacked");
    TorchDistRoundTripTest.assertIdentical(Fixtures.tiny("qwen35_moe_vl_bf16"), unpacked);
    // The per-expert folder packed: main decoder as the packed fixture, MTP packed too.
    Path packed = export(save, Fixtures.tiny("qwen35_moe_vl_bf16"), HfView.ofSource(),
        Optional.of(HfExpertLayout.PACKED), "packed");
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(packed);
        SafetensorsCheckpoint fixture = SafetensorsCheckpoint.open(Fixtures.tiny("qwen35_moe_vl_packed_bf16"))) {
      assertThat(written.names()).noneMatch(name -> name.matches(PER_EXPERT_WEIGHT));
      for (String name : fixture.names()) {
        if (!name.startsWith("mtp.layers.0.mlp.experts.")) {
          assertSameBytes(name, fixture.tensor(name), written.tensor(name));
        }
      }
    }
  }

  private static void assertSameBytes(String what, Tensor expected, Tensor actual) {
    assertThat(actual.dtype()).as(what).isEqualTo(expected.dtype());
    assertThat(actual.shape()).as(what).isEqualTo(expected.shape());
    assertThat(actual.toByteArray()).as(what).isEqualTo(expected.toByteArray());
  }

  /** The HF folder's small files (config, preprocessor) without its weights, in a new folder. */
  private Path configOnlyCopy(Path hf) throws IOException {
    Path copy = Files.createTempDirectory(temp, "config-only");
    Files.createDirectories(copy);
    try (Stream<Path> files = Files.list(hf)) {
      for (Path file : files.toList()) {
        String name = file.getFileName().toString();
        if (!name.endsWith(".safetensors") && !name.equals(SafetensorsCheckpoint.INDEX_FILE)) {
          Files.copy(file, copy.resolve(name));
        }
      }
    }
    return copy;
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        try {
          Files.delete(path);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    }
  }
}
