package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.convert.torchdist.TorchDistSidecar;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.mapping.PaddedVocabMapping;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.VocabPadding;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.runtime.ops.Linear;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The forward pass from checkpoints of slime's native schema (slime-native-schema §2): the Gated DeltaNet and the
 * vision tower are replicated on every TP rank and run whole (rank 0's copy), the embedding and output layer carry
 * zero pad rows beyond the HF vocabulary, which the runtime never computes. Every case must equal the single-rank
 * forward of the HF folder bit for bit, as the Megatron-Bridge schema does ({@link ShardedForwardTest}).
 */
class SlimeShardedForwardTest {

  private static final int VOCABULARY = 1024;

  static Stream<Arguments> shardLayouts() {
    return Stream.of(
        Arguments.of("qwen35_dense_vl", ParallelLayout.of(1, 1, 1, 1, 1), VocabPadding.megatron()),
        Arguments.of("qwen35_dense_vl", ParallelLayout.of(2, 2, 1, 1, 1), VocabPadding.megatron()),
        Arguments.of("qwen35_dense_vl_bf16", ParallelLayout.of(1, 1, 1, 1, 1), new VocabPadding.Exactly(1030)),
        Arguments.of("qwen35_moe_vl_packed_bf16", ParallelLayout.of(2, 1, 1, 2, 1), VocabPadding.megatron()),
        Arguments.of("qwen35_moe_vl", ParallelLayout.of(2, 2, 1, 2, 2), new VocabPadding.Exactly(1100)));
  }

  private static BridgeOptions slime(VocabPadding padding) {
    return BridgeOptions.forSchema(BridgeOptions.Schema.SLIME).withVocabPadding(padding);
  }

  static Path importSlimeShards(String model, ParallelLayout layout, VocabPadding padding, Path output) {
    Importer.run(Fixtures.model(model), output, new Importer.Options(layout, slime(padding), Optional.empty(), false,
        2), AutoBridge.discover(), Progress.NONE);
    return output;
  }

  private static String referenceOf(String model) {
    return model.startsWith("qwen35_moe") ? "qwen35_moe_vl" : "qwen35_dense_vl";
  }

  /** Text and image case: logits and MTP logits of {@code actual} bit for bit those of the HF fixture. */
  private static void assertSameForward(String model, Qwen35Model actual, String what) {
    SafetensorsCheckpoint reference = Fixtures.reference(referenceOf(model));
    Qwen35Model single = Fixtures.loaded(model);
    assertThat(actual.vocabularySize()).as(what + ": vocabulary").isEqualTo(VOCABULARY);
    for (String caseName : List.of("text", "image")) {
      ForwardResult expected = Qwen35ReferenceTest.run(single, reference, caseName, ForwardTrace.NONE);
      ForwardResult result = Qwen35ReferenceTest.run(actual, reference, caseName, ForwardTrace.NONE);
      String label = what + " " + caseName;
      System.out.printf("%s: max abs difference %.3g%n", label,
          Fixtures.maxAbsDifference(result.logits().data(), expected.logits().data()));
      assertThat(result.logits().data()).as(label + " logits").isEqualTo(expected.logits().data());
      assertThat(result.mtpLogits().orElseThrow().data()).as(label + " MTP logits")
          .isEqualTo(expected.mtpLogits().orElseThrow().data());
    }
  }

  @ParameterizedTest(name = "{0} {1} vocabulary {2}")
  @MethodSource("shardLayouts")
  void slimeShardsForwardEqualsHfForward(String model, ParallelLayout layout, VocabPadding padding,
      @TempDir Path scratch) {
    Path shards = importSlimeShards(model, layout, padding, scratch.resolve("slime"));
    try (Qwen35Model sharded = Qwen35Model.load(shards, RuntimeOptions.defaults().withThreads(2))) {
      assertSameForward(model, sharded, model + " slime shards " + layout.describe() + " padded " + padding.describe());
    }
  }

  static Stream<Arguments> wideLayouts() {
    return Stream.of(
        Arguments.of("qwen35_dense_vl", ParallelLayout.of(4, 2, 1, 1, 1), new VocabPadding.Exactly(1040)),
        Arguments.of("qwen35_moe_vl", ParallelLayout.of(8, 1, 1, 8, 1), VocabPadding.megatron()));
  }

  /** TP 4 and 8 on the widened fixtures ({@link WideShardedForwardTest#widen}): eight whole GDN copies at TP 8. */
  @ParameterizedTest(name = "{0} {1} vocabulary {2}")
  @MethodSource("wideLayouts")
  void wideSlimeShardsForwardEqualsHfForward(String fixture, ParallelLayout layout, VocabPadding padding,
      @TempDir Path scratch) throws IOException {
    Path hf = WideShardedForwardTest.widen(Fixtures.model(fixture), scratch.resolve("hf"));
    Path shards = scratch.resolve("slime");
    Importer.run(hf, shards, new Importer.Options(layout, slime(padding), Optional.empty(), false, 2),
        AutoBridge.discover(), Progress.NONE);
    long[] inputIds = new SplittableRandom(5).longs(24, 0, VOCABULARY).toArray();
    try (Qwen35Model single = Qwen35Model.load(hf, RuntimeOptions.defaults().withThreads(2));
        Qwen35Model sharded = Qwen35Model.load(shards, RuntimeOptions.defaults().withThreads(2))) {
      ForwardResult expected = single.forward(inputIds, Optional.empty());
      ForwardResult actual = sharded.forward(inputIds, Optional.empty());
      String what = fixture + " widened, slime shards " + layout.describe();
      assertThat(Fixtures.maxAbs(expected.logits().data())).as("logits must be non-trivial").isGreaterThan(1.5);
      assertThat(actual.logits().data()).as(what + " logits").isEqualTo(expected.logits().data());
      assertThat(actual.mtpLogits().orElseThrow().data()).as(what + " MTP logits")
          .isEqualTo(expected.mtpLogits().orElseThrow().data());
    }
  }

  static Stream<Arguments> torchDistCases() {
    return Stream.of(
        Arguments.of("qwen35_dense_vl", ParallelLayout.of(2, 1, 1, 1, 1), new VocabPadding.Exactly(1030)),
        Arguments.of("qwen35_moe_vl_packed_bf16", ParallelLayout.of(2, 1, 1, 2, 1), VocabPadding.megatron()),
        Arguments.of("qwen35_moe_vl_packed_bf16", ParallelLayout.of(1, 1, 1, 2, 1), new VocabPadding.Exactly(1100)));
  }

  @ParameterizedTest(name = "{0} {1} vocabulary {2}")
  @MethodSource("torchDistCases")
  void slimeTorchDistForwardEqualsHfForward(String model, ParallelLayout layout, VocabPadding padding,
      @TempDir Path scratch) {
    Path torchDist = scratch.resolve("torch_dist");
    try (CheckpointSource source = CheckpointSource.openHf(Fixtures.model(model))) {
      TorchDistImporter.write(source, torchDist, new TorchDistImporter.Options(layout,
          slime(padding), false, 2), AutoBridge.discover(), Progress.NONE);
    }
    try (Qwen35Model fromTorchDist = Qwen35Model.load(torchDist, RuntimeOptions.defaults().withThreads(2))) {
      assertSameForward(model, fromTorchDist, model + " slime torch_dist " + layout.describe());
    }
  }

  /**
   * A torch_dist checkpoint as slime writes it (no megabridge sidecar): the schema comes from its keys, the
   * vocabulary from the HF config, so the pad rows are dropped by {@code vocab_size}. An F32 model stores every
   * tensor F32, so the forward is still bit-exact.
   */
  @Test
  void slimeTorchDistWithoutSidecarForwardEqualsHfForward(@TempDir Path scratch) throws IOException {
    String model = "qwen35_dense_vl";
    Path torchDist = scratch.resolve("torch_dist");
    try (CheckpointSource source = CheckpointSource.openHf(Fixtures.model(model))) {
      TorchDistImporter.write(source, torchDist, new TorchDistImporter.Options(
          ParallelLayout.of(2, 1, 1, 1, 1), slime(new VocabPadding.Exactly(1030)), false, 2), AutoBridge.discover(),
          Progress.NONE);
    }
    Path release = torchDist.resolve("release");
    Files.delete(release.resolve(TorchDistSidecar.FILE_NAME));
    try (Stream<Path> files = Files.walk(release.resolve(TorchDistSidecar.HF_FILES_DIR))) {
      for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(file);
      }
    }
    assertThat(release.resolve(TorchDistSidecar.NARROWED_FILE)).doesNotExist();
    try (Qwen35Model fromTorchDist = Qwen35Model.load(torchDist, Optional.of(Fixtures.model(model)),
        RuntimeOptions.defaults().withThreads(2))) {
      assertSameForward(model, fromTorchDist, model + " slime torch_dist without sidecar");
    }
  }

  @Test
  void greedyGenerationFromPaddedSlimeShardsEqualsHf(@TempDir Path scratch) {
    Path shards = importSlimeShards("qwen35_moe_vl", ParallelLayout.of(2, 1, 1, 2, 1), new VocabPadding.Exactly(1100),
        scratch.resolve("slime"));
    SafetensorsCheckpoint reference = Fixtures.reference("qwen35_moe_vl");
    long[] prompt = Fixtures.longs(reference, "text.input_ids");
    try (Qwen35Model sharded = Qwen35Model.load(shards, RuntimeOptions.defaults().withThreads(2))) {
      GenerationResult expected = Fixtures.loaded("qwen35_moe_vl").generate(prompt, Optional.empty(), 8,
          Sampling.greedy());
      GenerationResult actual = sharded.generate(prompt, Optional.empty(), 8, Sampling.greedy());
      assertThat(actual.tokens()).hasSize(8).containsExactly(expected.tokens());
    }
  }

  @Test
  void gatedDeltaNetAndVisionRunWholeAndPadRowsAreNeverComputed(@TempDir Path scratch) {
    Path shards = importSlimeShards("qwen35_moe_vl", ParallelLayout.of(2, 1, 1, 2, 1), new VocabPadding.Exactly(1100),
        scratch.resolve("slime"));
    ModelWeights hf = Fixtures.loadedWeights("qwen35_moe_vl");
    try (MegatronShardWeights weights = MegatronShardWeights.open(shards)) {
      String gdn = "model.language_model.layers.0.linear_attn.";
      // Replicated: one whole copy, not a split over the two TP ranks.
      assertThat(weights.linear(gdn + "in_proj_qkv.weight")).isInstanceOfSatisfying(Linear.Dense.class,
          dense -> assertThat(dense.weight().rows()).isEqualTo(Math.toIntExact(hf.tensor(gdn + "in_proj_qkv.weight").shape().dim(0))));
      assertThat(weights.linear(gdn + "out_proj.weight")).isInstanceOfSatisfying(Linear.RowParallel.class,
          row -> assertThat(row.shards()).hasSize(1));
      // slime stores the GDN norm as the plain gamma (no −1), and the HF view must not shift it.
      assertThat(weights.floats(gdn + "norm.weight")).containsExactly(hf.floats(gdn + "norm.weight"));
      assertThat(weights.linear("model.visual.blocks.0.attn.qkv.weight")).isInstanceOf(Linear.Dense.class);
      // Vocabulary: 1100 rows split 550 / 550; rank 1's last 76 rows are padding and computed by no shard.
      Linear output = weights.linear("lm_head.weight");
      assertThat(output.outFeatures()).isEqualTo(VOCABULARY);
      assertThat(output).isInstanceOfSatisfying(Linear.ColumnParallel.class, column -> assertThat(column.shards())
          .extracting(shard -> shard.outputRows().length).containsExactly(550, VOCABULARY - 550));
      assertThat(weights.tensor("lm_head.weight").shape()).isEqualTo(hf.tensor("lm_head.weight").shape());
    }
  }

  @Test
  void probeMarksVocabularyPadRows() {
    PaddedVocabMapping mapping = new PaddedVocabMapping("output_layer.weight", "lm_head.weight", 5,
        new VocabPadding.Exactly(8));
    Map<String, Shape> shapes = Map.of(PaddedVocabMapping.TENSOR, Shape.of(5, 3));
    assertThat(MappingProbe.rows(mapping, shapes, 2, 0)).extracting(MappingProbe.Source::index)
        .containsExactly(0, 1, 2, 3);
    List<MappingProbe.Source> rank1 = MappingProbe.rows(mapping, shapes, 2, 1);
    assertThat(rank1.getFirst()).isEqualTo(new MappingProbe.Source(PaddedVocabMapping.TENSOR, 4));
    assertThat(rank1.subList(1, 4)).allMatch(MappingProbe.Source::padding);
  }
}
