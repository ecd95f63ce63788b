package dev.megabridge.qwen35.slime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.ShardsManifest;
import dev.megabridge.core.convert.torchdist.SchemaDetection;
import dev.megabridge.core.convert.torchdist.TorchDistCheckpoint;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.convert.torchdist.TorchDistSidecar;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.VocabPadding;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The slime schema (slime-native-schema): HF → slime shards / torch_dist → HF is bit-exact for every fixture and
 * layout, with and without vocabulary padding; conversions between the two Megatron schemas are exact; the schema
 * of a torch_dist checkpoint is told from its keys.
 */
class SlimeSchemaRoundTripTest {

  private static final AutoBridge AUTO_BRIDGE = AutoBridge.discover();
  private static final List<String> DENSE = List.of("qwen35_dense_vl", "qwen35_dense_vl_bf16",
      "qwen35_dense_vl_bf16_sharded");
  private static final List<String> MOE = List.of("qwen35_moe_vl", "qwen35_moe_vl_bf16", "qwen35_moe_vl_packed_bf16");

  @TempDir
  Path temp;

  static Stream<Arguments> shardCases() {
    VocabPadding megatron = VocabPadding.megatron();
    VocabPadding to1030 = new VocabPadding.Exactly(1030);
    Stream<Arguments> dense = DENSE.stream().flatMap(model -> Stream.of(
        Arguments.of(model, ParallelLayout.of(1, 1, 1, 1, 1), megatron, ExpertNaming.GROUPED),
        Arguments.of(model, ParallelLayout.of(2, 1, 1, 1, 1), to1030, ExpertNaming.GROUPED),
        Arguments.of(model, ParallelLayout.of(2, 2, 1, 1, 1), megatron, ExpertNaming.GROUPED),
        Arguments.of(model, ParallelLayout.of(1, 2, 1, 1, 1), VocabPadding.none(), ExpertNaming.GROUPED)));
    Stream<Arguments> moe = MOE.stream().flatMap(model -> Stream.of(
        Arguments.of(model, ParallelLayout.of(1, 1, 1, 1, 1), megatron, ExpertNaming.GROUPED),
        Arguments.of(model, ParallelLayout.of(2, 1, 1, 2, 2), to1030, ExpertNaming.GROUPED),
        Arguments.of(model, ParallelLayout.of(2, 2, 1, 2, 1), megatron, ExpertNaming.SEQUENTIAL),
        Arguments.of(model, ParallelLayout.of(1, 2, 1, 2, 1), megatron, ExpertNaming.GROUPED)));
    return Stream.concat(dense, moe);
  }

  private static BridgeOptions slime(VocabPadding padding, ExpertNaming experts) {
    BridgeOptions defaults = BridgeOptions.forSchema(Schema.SLIME);
    return new BridgeOptions(Schema.SLIME, defaults.mtpNaming(), experts, padding);
  }

  @ParameterizedTest(name = "{0} {1} vocab {2} {3}")
  @MethodSource("shardCases")
  void shardsRoundTripIsBitIdentical(String model, ParallelLayout layout, VocabPadding padding, ExpertNaming experts) {
    Path source = Fixtures.tiny(model);
    Path shards = temp.resolve("shards");
    Path exported = temp.resolve("exported");
    Importer.run(source, shards, new Importer.Options(layout, slime(padding, experts), Optional.empty(), false, 2),
        AUTO_BRIDGE, Progress.NONE);
    assertThat(ShardsManifest.read(shards).options().schema()).isEqualTo(Schema.SLIME);
    Exporter.run(shards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false), AUTO_BRIDGE,
        Progress.NONE);
    assertIdentical(source, exported);
  }

  static Stream<Arguments> torchDistCases() {
    return Stream.concat(DENSE.stream(), MOE.stream()).flatMap(model -> Stream.of(
        Arguments.of(model, 1, VocabPadding.megatron()), Arguments.of(model, 2, new VocabPadding.Exactly(1030))));
  }

  /** BF16 fixtures: A_log and the gated norm are stored BF16 (§2.10) and come back as the exact F32 originals. */
  @ParameterizedTest(name = "{0} tp{1} vocab {2}")
  @MethodSource("torchDistCases")
  void torchDistRoundTripIsBitIdentical(String model, int tp, VocabPadding padding) {
    Path source = Fixtures.tiny(model);
    Path torchDist = TestCheckpoints.importTorchDist(source, temp.resolve("td"), ParallelLayout.of(tp, 1, 1, 1, 1),
        slime(padding, ExpertNaming.GROUPED));
    try (TorchDistCheckpoint checkpoint = TorchDistCheckpoint.open(torchDist, Optional.empty(), AUTO_BRIDGE)) {
      assertThat(checkpoint.schema()).isEqualTo(Schema.SLIME);
    }
    Path exported = temp.resolve("exported");
    TestCheckpoints.exportHf(torchDist, Optional.empty(), exported);
    assertIdentical(source, exported);
    boolean bf16 = model.contains("bf16");
    assertThat(Files.exists(torchDist.resolve("release").resolve(TorchDistSidecar.NARROWED_FILE))).isEqualTo(bf16);
  }

  /**
   * A_log changed in training (stored value no longer the rounding of the recorded original): the export gives the
   * stored BF16 value widened, not the stale original.
   */
  @Test
  void trainedNarrowedTensorIsNotReplacedByTheRecordedOriginal() throws IOException {
    Path source = Fixtures.tiny("qwen35_dense_vl_bf16");
    Path torchDist = TestCheckpoints.importTorchDist(source, temp.resolve("td"), ParallelLayout.single(),
        BridgeOptions.forSchema(Schema.SLIME));
    // Simulate training: replace the recorded original by a value whose rounding differs from what is stored.
    Path narrowedFile = torchDist.resolve("release").resolve(TorchDistSidecar.NARROWED_FILE);
    String name = "language_model.decoder.layers.0.self_attention.linear_attn.A_log";
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    float[] original;
    try (SafetensorsCheckpoint recorded = SafetensorsCheckpoint.openFiles(narrowedFile.getParent(),
        List.of(narrowedFile))) {
      original = recorded.tensor(name).toFloatArray();
      for (String recordedName : recorded.names()) {
        Tensor tensor = recorded.tensor(recordedName);
        if (recordedName.equals(name)) {
          float[] changed = tensor.toFloatArray();
          changed[0] += 1.0f;
          tensor = Tensor.ofFloats(tensor.shape(), changed);
        }
        entries.add(new SafetensorsWriter.Entry(recordedName, Tensor.of(tensor.dtype(), tensor.shape(),
            java.lang.foreign.MemorySegment.ofArray(tensor.toByteArray()))));
      }
    }
    Files.delete(narrowedFile);
    SafetensorsWriter.writeFile(narrowedFile, entries, bytes -> { });
    Path exported = temp.resolve("exported");
    TestCheckpoints.exportHf(torchDist, Optional.empty(), exported);
    try (SafetensorsCheckpoint out = SafetensorsCheckpoint.open(exported)) {
      Tensor aLog = out.tensor("model.language_model.layers.0.linear_attn.A_log");
      assertThat(aLog.dtype()).isEqualTo(DType.F32);
      float[] values = aLog.toFloatArray();
      for (int index = 0; index < values.length; index++) {
        assertThat(values[index]).isEqualTo(DType.bf16ToFloat(DType.floatToBf16(original[index])));
      }
    }
  }

  /** Megatron-Bridge torch_dist → slime torch_dist → Megatron-Bridge shards → HF, and slime shards → MB torch_dist. */
  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl_bf16", "qwen35_moe_vl_packed_bf16", "qwen35_moe_vl"})
  void conversionsBetweenSchemasAreExact(String model) {
    Path source = Fixtures.tiny(model);
    Path megatronBridge = TestCheckpoints.importTorchDist(source, temp.resolve("mb-td"), ParallelLayout.single(),
        BridgeOptions.defaults());
    Path slimeTd = temp.resolve("slime-td");
    try (CheckpointSource mb = CheckpointSource.openTorchDist(megatronBridge, Optional.empty(), AUTO_BRIDGE)) {
      TorchDistImporter.write(mb, slimeTd, new TorchDistImporter.Options(ParallelLayout.of(2, 1, 1, 1, 1),
          BridgeOptions.forSchema(Schema.SLIME), false, 2), AUTO_BRIDGE, Progress.NONE);
    }
    Path mbShards = temp.resolve("mb-shards");
    try (CheckpointSource slimeSource = CheckpointSource.openTorchDist(slimeTd, Optional.empty(), AUTO_BRIDGE)) {
      Importer.convert(slimeSource, mbShards, new Importer.Options(ParallelLayout.of(2, 2, 1, 1, 1),
          BridgeOptions.defaults(), Optional.empty(), false, 2), AUTO_BRIDGE, Progress.NONE);
    }
    Path exported = temp.resolve("exported");
    Exporter.run(mbShards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false), AUTO_BRIDGE,
        Progress.NONE);
    assertIdentical(source, exported);

    Path slimeShards = temp.resolve("slime-shards");
    Importer.run(source, slimeShards, new Importer.Options(ParallelLayout.of(2, 1, 1, 1, 1),
        BridgeOptions.forSchema(Schema.SLIME), Optional.empty(), false, 2), AUTO_BRIDGE, Progress.NONE);
    Path mbTdAgain = temp.resolve("mb-td-again");
    try (CheckpointSource shards = CheckpointSource.openShards(slimeShards, AUTO_BRIDGE)) {
      TorchDistImporter.write(shards, mbTdAgain, new TorchDistImporter.Options(ParallelLayout.single(),
          BridgeOptions.defaults(), false, 2), AUTO_BRIDGE, Progress.NONE);
    }
    Path exportedAgain = temp.resolve("exported-again");
    TestCheckpoints.exportHf(mbTdAgain, Optional.empty(), exportedAgain);
    assertIdentical(source, exportedAgain);
  }

  /** Without our sidecar (a checkpoint slime wrote), the schema is told from the keys alone. */
  @Test
  void schemaIsDetectedFromKeysWithoutSidecar() throws IOException {
    Path source = Fixtures.tiny("qwen35_moe_vl_packed_bf16");
    for (Schema schema : Schema.values()) {
      Path torchDist = TestCheckpoints.importTorchDist(source, temp.resolve("td-" + schema.id()), ParallelLayout.single(),
          BridgeOptions.forSchema(schema));
      Path release = torchDist.resolve("release");
      Files.delete(release.resolve(TorchDistSidecar.FILE_NAME));
      try (TorchDistCheckpoint checkpoint = TorchDistCheckpoint.open(torchDist, Optional.of(source), AUTO_BRIDGE)) {
        assertThat(checkpoint.schema()).isEqualTo(schema);
      }
    }
  }

  @Test
  void mixedOrUnknownKeysAreRefusedWithTheOffendingKeys() {
    HfConfig config = HfConfig.load(Fixtures.tiny("qwen35_dense_vl_bf16"));
    List<String> mixed = List.of("language_model.embedding.word_embeddings.weight",
        "language_model.decoder.layers.0.self_attention.in_proj.weight.query",
        "language_model.decoder.layers.1.self_attention.linear_attn.A_log");
    assertThatThrownBy(() -> SchemaDetection.detect(temp, mixed, config, Optional.empty(), AUTO_BRIDGE))
        .isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("mixes Megatron schemas")
        .hasMessageContaining("megatron-bridge keys (e.g. language_model.decoder.layers.0.self_attention.in_proj.weight.query)")
        .hasMessageContaining("slime keys (e.g. language_model.decoder.layers.1.self_attention.linear_attn.A_log)");
    List<String> neither = List.of("language_model.embedding.word_embeddings.weight", "something.else.weight");
    assertThatThrownBy(() -> SchemaDetection.detect(temp, neither, config, Optional.empty(), AUTO_BRIDGE))
        .isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("matches neither")
        .hasMessageContaining("something.else.weight");
  }

  /** slime keeps the Gated DeltaNet and vision whole on every rank: TP need not divide their heads; vocabulary must. */
  @Test
  void layoutRulesFollowTheSchema() {
    Path source = Fixtures.tiny("qwen35_dense_vl_bf16");
    // Pad to a size TP 2 does not divide.
    assertThatThrownBy(() -> Importer.run(source, temp.resolve("bad"), new Importer.Options(
        ParallelLayout.of(2, 1, 1, 1, 1), slime(new VocabPadding.Exactly(1031), ExpertNaming.GROUPED),
        Optional.empty(), false, 2), AUTO_BRIDGE, Progress.NONE))
        .isInstanceOf(LayoutException.class).hasMessageContaining("padded vocabulary");
    assertThat(Files.exists(temp.resolve("bad"))).isFalse();
  }

  /** The text-only model (no prefix, {@code model.layers.*}) in the slime schema. */
  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl_bf16", "qwen35_moe_vl_packed_bf16"})
  void textOnlyModelRoundTrips(String model) throws IOException {
    Path source = SlimeSources.textOnly(Fixtures.tiny(model), temp.resolve("text"));
    Path shards = temp.resolve("shards");
    Importer.run(source, shards, new Importer.Options(ParallelLayout.of(2, 2, 1, 1, 1),
        BridgeOptions.forSchema(Schema.SLIME), Optional.empty(), false, 2), AUTO_BRIDGE, Progress.NONE);
    try (SafetensorsCheckpoint first = SafetensorsCheckpoint.openFiles(shards,
        List.of(shards.resolve("mp_rank_00_000/model.safetensors")))) {
      assertThat(first.names()).contains("embedding.word_embeddings.weight",
          "decoder.layers.0.self_attention.linear_attn.in_proj_qkv.weight");
      assertThat(first.names()).noneMatch(name -> name.startsWith("language_model.") || name.startsWith("model."));
    }
    Path exported = temp.resolve("exported");
    Exporter.run(shards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false), AUTO_BRIDGE,
        Progress.NONE);
    assertIdentical(source, exported);
    Path torchDist = TestCheckpoints.importTorchDist(source, temp.resolve("td"), ParallelLayout.single(),
        BridgeOptions.forSchema(Schema.SLIME));
    Path exportedTd = temp.resolve("exported-td");
    TestCheckpoints.exportHf(torchDist, Optional.empty(), exportedTd);
    assertIdentical(source, exportedTd);
  }

  private static void assertIdentical(Path expected, Path actual) {
    CheckpointComparison.Result result = CheckpointComparison.compare(expected, actual);
    assertThat(result.differences()).isEmpty();
    assertThat(result.tensors()).isGreaterThan(50);
    try (SafetensorsCheckpoint left = SafetensorsCheckpoint.open(expected);
        SafetensorsCheckpoint right = SafetensorsCheckpoint.open(actual)) {
      assertThat(right.fileNames()).isEqualTo(left.fileNames());
      for (String name : left.names()) {
        assertThat(right.tensor(name).dtype()).as(name).isEqualTo(left.tensor(name).dtype());
      }
    }
  }
}
