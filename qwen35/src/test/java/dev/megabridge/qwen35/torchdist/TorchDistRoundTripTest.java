package dev.megabridge.qwen35.torchdist;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** HF → torch_dist → HF and shards → torch_dist → shards → HF are bit-identical for every tiny fixture. */
class TorchDistRoundTripTest {

  private static final AutoBridge AUTO_BRIDGE = AutoBridge.discover();

  @TempDir
  Path temp;

  static void assertIdentical(Path expected, Path actual) {
    CheckpointComparison.Result result = CheckpointComparison.compare(expected, actual);
    assertThat(result.differences()).isEmpty();
    assertThat(result.tensors()).isGreaterThan(100);
    try (SafetensorsCheckpoint left = SafetensorsCheckpoint.open(expected);
        SafetensorsCheckpoint right = SafetensorsCheckpoint.open(actual)) {
      assertThat(right.fileNames()).isEqualTo(left.fileNames());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl", "qwen35_dense_vl_bf16", "qwen35_dense_vl_bf16_sharded", "qwen35_moe_vl",
      "qwen35_moe_vl_bf16", "qwen35_moe_vl_packed_bf16"})
  void hfToTorchDistToHfIsBitIdentical(String model) throws Exception {
    Path source = Fixtures.tiny(model);
    ParallelLayout requested = model.contains("moe") ? ParallelLayout.of(2, 2, 1, 4, 1) : ParallelLayout.of(2, 1, 1, 1, 1);
    Path save = TestCheckpoints.importTorchDist(source, temp.resolve("save"), requested,
        new BridgeOptions(MtpNaming.CURRENT, ExpertNaming.SEQUENTIAL));
    Path exported = temp.resolve("hf");
    TestCheckpoints.exportHf(save, Optional.empty(), exported);
    assertIdentical(source, exported);
    // The small files come back from the sidecar too.
    assertThat(Files.readString(exported.resolve("config.json"))).isEqualTo(Files.readString(source.resolve("config.json")));
    assertThat(exported.resolve("preprocessor_config.json")).exists();
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl_bf16_sharded", "qwen35_moe_vl_packed_bf16"})
  void shardsToTorchDistToShardsToHfIsBitIdentical(String model) {
    Path source = Fixtures.tiny(model);
    Path shards = temp.resolve("shards");
    ParallelLayout first = model.contains("moe") ? ParallelLayout.of(2, 2, 1, 2, 1) : ParallelLayout.of(2, 2, 1, 1, 1);
    Importer.run(source, shards, new Importer.Options(first, BridgeOptions.defaults(), Optional.empty(), false, 2),
        AUTO_BRIDGE, Progress.NONE);
    Path save = temp.resolve("save");
    try (CheckpointSource fromShards = CheckpointSource.openMegatron(shards, Optional.empty(), AUTO_BRIDGE)) {
      TorchDistImporter.write(fromShards, save, new TorchDistImporter.Options(first, BridgeOptions.defaults(), false, 1),
          AUTO_BRIDGE, Progress.NONE);
    }
    Path again = temp.resolve("shards2");
    ParallelLayout second = model.contains("moe") ? ParallelLayout.of(1, 2, 1, 8, 1) : ParallelLayout.of(1, 4, 1, 1, 1);
    try (CheckpointSource fromTorchDist = CheckpointSource.openMegatron(save, Optional.empty(), AUTO_BRIDGE)) {
      Importer.convert(fromTorchDist, again, new Importer.Options(second,
          new BridgeOptions(MtpNaming.LEGACY, ExpertNaming.SEQUENTIAL), Optional.empty(), false, 2), AUTO_BRIDGE,
          Progress.NONE);
    }
    Path exported = temp.resolve("hf");
    Exporter.run(again, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false), AUTO_BRIDGE,
        Progress.NONE);
    assertIdentical(source, exported);
  }

  @Test
  void configLessExportOfOurCheckpointMatchesExportWithHfConfig() {
    Path source = Fixtures.tiny("qwen35_moe_vl");
    Path save = TestCheckpoints.importTorchDist(source, temp.resolve("save"), ParallelLayout.single(), BridgeOptions.defaults());
    Path exported = temp.resolve("hf");
    TestCheckpoints.exportHf(save.resolve("release"), Optional.of(source), exported);
    assertIdentical(source, exported);
  }
}
