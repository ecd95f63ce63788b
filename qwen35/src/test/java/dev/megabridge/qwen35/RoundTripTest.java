package dev.megabridge.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
import dev.megabridge.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** HF → Megatron shards → HF is bit-identical for every fixture and many layouts. */
class RoundTripTest {

  @TempDir
  Path temp;

  static Stream<Arguments> cases() {
    Stream<Arguments> dense = Stream.of("qwen35_dense_vl", "qwen35_dense_vl_bf16", "qwen35_dense_vl_bf16_sharded")
        .flatMap(model -> Stream.of(
            Arguments.of(model, ParallelLayout.of(1, 1, 1, 1, 1), ExpertNaming.GROUPED, MtpNaming.CURRENT),
            Arguments.of(model, ParallelLayout.of(2, 1, 1, 1, 1), ExpertNaming.GROUPED, MtpNaming.LEGACY),
            Arguments.of(model, ParallelLayout.of(2, 2, 1, 1, 1), ExpertNaming.GROUPED, MtpNaming.CURRENT),
            Arguments.of(model, ParallelLayout.of(1, 4, 1, 1, 1), ExpertNaming.GROUPED, MtpNaming.CURRENT),
            Arguments.of(model, ParallelLayout.of(2, 2, 2, 1, 1), ExpertNaming.GROUPED, MtpNaming.LEGACY),
            Arguments.of(model, new ParallelLayout(1, 3, 1, 1, 1, Optional.of(2), Optional.of(2)),
                ExpertNaming.GROUPED, MtpNaming.CURRENT)));
    Stream<Arguments> moe = Stream.of("qwen35_moe_vl", "qwen35_moe_vl_bf16", "qwen35_moe_vl_packed_bf16")
        .flatMap(model -> Stream.of(
            Arguments.of(model, ParallelLayout.of(1, 1, 1, 1, 1), ExpertNaming.GROUPED, MtpNaming.CURRENT),
            Arguments.of(model, ParallelLayout.of(2, 1, 1, 2, 2), ExpertNaming.GROUPED, MtpNaming.LEGACY),
            Arguments.of(model, ParallelLayout.of(2, 2, 1, 4, 1), ExpertNaming.SEQUENTIAL, MtpNaming.CURRENT),
            Arguments.of(model, ParallelLayout.of(1, 2, 2, 8, 1), ExpertNaming.GROUPED, MtpNaming.CURRENT),
            Arguments.of(model, ParallelLayout.of(2, 1, 1, 8, 2), ExpertNaming.SEQUENTIAL, MtpNaming.LEGACY)));
    return Stream.concat(dense, moe);
  }

  /**
   * A tied model (no lm_head.weight, top-level tie flag) keeps no output layer with PP 1; with PP 2 the last
   * stage holds a copy of the embedding as its output layer. Both round-trip exactly.
   */
  @ParameterizedTest(name = "tied pp={0}")
  @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
  void tiedModelRoundTrips(int pp) throws java.io.IOException {
    Path source = temp.resolve("tied");
    java.nio.file.Files.createDirectories(source);
    com.fasterxml.jackson.databind.node.ObjectNode config = dev.megabridge.core.config.HfConfig
        .load(Fixtures.tiny("qwen35_dense_vl_bf16")).raw().deepCopy();
    config.put("tie_word_embeddings", true);
    java.nio.file.Files.writeString(source.resolve("config.json"), config.toPrettyString());
    try (SafetensorsCheckpoint original = SafetensorsCheckpoint.open(Fixtures.tiny("qwen35_dense_vl_bf16"))) {
      java.util.List<dev.megabridge.core.io.safetensors.SafetensorsWriter.Entry> entries = original.names().stream()
          .filter(name -> !name.equals("lm_head.weight"))
          .map(name -> new dev.megabridge.core.io.safetensors.SafetensorsWriter.Entry(name, original.tensor(name)))
          .toList();
      dev.megabridge.core.io.safetensors.SafetensorsWriter.writeFile(source.resolve("model.safetensors"), entries,
          bytes -> { });
    }
    Path shards = temp.resolve("tied-shards");
    Path exported = temp.resolve("tied-exported");
    AutoBridge autoBridge = AutoBridge.discover();
    Importer.run(source, shards, new Importer.Options(ParallelLayout.of(2, pp, 1, 1, 1), BridgeOptions.defaults(),
        Optional.empty(), false, 2), autoBridge, Progress.NONE);
    try (SafetensorsCheckpoint last = SafetensorsCheckpoint.openFiles(shards,
        java.util.List.of(shards.resolve(String.format("mp_rank_00_%03d/model.safetensors", pp - 1))))) {
      assertThat(last.contains("language_model.output_layer.weight")).isEqualTo(pp > 1);
      if (pp > 1) {
        assertThat(Tensor.contentEquals(last.tensor("language_model.output_layer.weight"),
            last.tensor("language_model.embedding.word_embeddings.weight"))).isTrue();
      }
    }
    Exporter.run(shards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false), autoBridge,
        Progress.NONE);
    assertThat(dev.megabridge.core.convert.CheckpointComparison.compare(source, exported).differences()).isEmpty();
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @MethodSource("cases")
  void roundTripIsBitIdentical(String model, ParallelLayout layout, ExpertNaming experts, MtpNaming mtp) {
    Path source = Fixtures.tiny(model);
    Path shards = temp.resolve("shards");
    Path exported = temp.resolve("exported");
    AutoBridge autoBridge = AutoBridge.discover();
    Importer.run(source, shards, new Importer.Options(layout, new BridgeOptions(mtp, experts), Optional.empty(), false, 2),
        autoBridge, Progress.NONE);
    Exporter.run(shards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false), autoBridge,
        Progress.NONE);
    try (SafetensorsCheckpoint original = SafetensorsCheckpoint.open(source);
        SafetensorsCheckpoint roundTripped = SafetensorsCheckpoint.open(exported)) {
      assertThat(roundTripped.names()).containsExactlyInAnyOrderElementsOf(original.names());
      assertThat(roundTripped.fileNames()).isEqualTo(original.fileNames());
      for (String name : original.names()) {
        Tensor expected = original.tensor(name);
        Tensor actual = roundTripped.tensor(name);
        assertThat(Tensor.contentEquals(actual, expected)).as(name).isTrue();
      }
    }
  }
}
