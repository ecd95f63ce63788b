package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.mapping.GatedQkvMapping;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.runtime.ops.Linear;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The forward pass computed tensor-parallel from Megatron shards against the single-rank HF forward and the
 * transformers references. Tiny fixtures have 2 KV heads, 2 GDN key heads and 2 vision heads, so TP 2 is the
 * largest valid tensor-parallel size; TP 4 must be rejected.
 */
class ShardedForwardTest {

  static Stream<Arguments> layouts() {
    return Stream.of(
        Arguments.of("qwen35_dense_vl", "qwen35_dense_vl", ParallelLayout.of(1, 2, 1, 1, 1), false),
        Arguments.of("qwen35_moe_vl", "qwen35_moe_vl", ParallelLayout.of(1, 1, 1, 2, 1), false),
        Arguments.of("qwen35_dense_vl", "qwen35_dense_vl", ParallelLayout.of(2, 1, 1, 1, 1), false),
        Arguments.of("qwen35_dense_vl", "qwen35_dense_vl", ParallelLayout.of(2, 2, 1, 1, 1), false),
        Arguments.of("qwen35_moe_vl", "qwen35_moe_vl", ParallelLayout.of(2, 1, 1, 2, 1), false),
        Arguments.of("qwen35_moe_vl", "qwen35_moe_vl", ParallelLayout.of(2, 2, 1, 2, 2), true),
        Arguments.of("qwen35_moe_vl_packed_bf16", "qwen35_moe_vl", ParallelLayout.of(2, 2, 1, 2, 2), false),
        Arguments.of("qwen35_dense_vl_bf16", "qwen35_dense_vl", ParallelLayout.of(2, 2, 1, 1, 1), false));
  }

  static Path importShards(String model, ParallelLayout layout, boolean sequentialExperts, Path output) {
    BridgeOptions options = new BridgeOptions(BridgeOptions.defaults().mtpNaming(),
        sequentialExperts ? BridgeOptions.ExpertNaming.SEQUENTIAL : BridgeOptions.ExpertNaming.GROUPED);
    Importer.run(Fixtures.model(model), output, new Importer.Options(layout, options, Optional.empty(), false, 2),
        AutoBridge.discover(), Progress.NONE);
    return output;
  }

  @ParameterizedTest(name = "{0} {2} sequential={3}")
  @MethodSource("layouts")
  void shardedForwardMatchesSingleRankAndTransformers(String modelName, String referenceName, ParallelLayout layout,
      boolean sequentialExperts, @TempDir Path scratch) {
    Path shards = importShards(modelName, layout, sequentialExperts, scratch.resolve("megatron"));
    SafetensorsCheckpoint reference = Fixtures.reference(referenceName);
    boolean bf16 = modelName.contains("bf16");
    Qwen35Model single = Fixtures.loaded(modelName);
    try (Qwen35Model sharded = Qwen35Model.load(shards, RuntimeOptions.defaults().withThreads(2))) {
      for (String caseName : List.of("text", "image")) {
        ForwardResult expected = Qwen35ReferenceTest.run(single, reference, caseName, ForwardTrace.NONE);
        ForwardResult actual = Qwen35ReferenceTest.run(sharded, reference, caseName, ForwardTrace.NONE);
        String what = modelName + " " + layout.describe() + " " + caseName;
        // Row-kind layers reduce in one canonical order whatever the split, so every layout is bit-identical.
        assertIdentical(actual.logits().data(), expected.logits().data(), what + ": sharded vs single-rank logits");
        assertIdentical(actual.mtpLogits().orElseThrow().data(), expected.mtpLogits().orElseThrow().data(),
            what + ": sharded vs single-rank MTP logits");
        String prefix = (bf16 ? "bf16w." : "") + caseName;
        Qwen35ReferenceTest.assertLogits(actual.logits(), Fixtures.floats(reference, prefix + ".logits"), what);
        Qwen35ReferenceTest.assertLogits(actual.mtpLogits().orElseThrow(),
            Fixtures.floats(reference, prefix + ".mtp.logits"), what + " mtp");
      }
    }
  }

  /** Bit for bit equal (the difference is printed first, to show how far off a failure is). */
  private static void assertIdentical(float[] actual, float[] expected, String what) {
    System.out.printf("%s: max abs difference %.3g (max |logit| %.3g)%n", what,
        Fixtures.maxAbsDifference(actual, expected), Fixtures.maxAbs(expected));
    assertThat(actual).as(what).isEqualTo(expected);
  }

  @Test
  void linearLayersComputeFromEveryRanksOwnShard(@TempDir Path scratch) {
    Path shards = importShards("qwen35_moe_vl", ParallelLayout.of(2, 2, 1, 2, 2), false, scratch.resolve("shards"));
    try (MegatronShardWeights weights = MegatronShardWeights.open(shards)) {
      String layer = "model.language_model.layers.3.";
      // Gated QKV: each rank holds one query group; q_proj rows come from both ranks, permuted per head.
      Linear query = weights.linear(layer + "self_attn.q_proj.weight");
      assertThat(query).isInstanceOf(Linear.ColumnParallel.class);
      List<Linear.ColumnShard> queryShards = ((Linear.ColumnParallel) query).shards();
      assertThat(queryShards).hasSize(2);
      assertThat(queryShards.getFirst().outputRows()).hasSize(2 * 64 * 2);
      assertThat(weights.linear(layer + "self_attn.o_proj.weight"))
          .isInstanceOfSatisfying(Linear.RowParallel.class, row -> {
            assertThat(row.shards()).extracting(Linear.RowShard::inputStart).containsExactly(0, 128);
            assertThat(row.canonical()).isTrue();
          });
      // Routed expert 5 lives on EP rank 1 and is split over 2 ETP ranks.
      assertThat(weights.linear(layer + "mlp.experts.5.down_proj.weight"))
          .isInstanceOfSatisfying(Linear.RowParallel.class, row -> assertThat(row.shards()).hasSize(2));
      // The single-rank forward computes the same row-kind layer as one canonical shard.
      assertThat(Fixtures.loadedWeights("qwen35_moe_vl").linear(layer + "self_attn.o_proj.weight"))
          .isInstanceOfSatisfying(Linear.RowParallel.class, row -> assertThat(row.shards()).hasSize(1));
      // Replicated router: rank 0's copy.
      assertThat(weights.linear(layer + "mlp.gate.weight")).isInstanceOf(Linear.Dense.class);
      // The zero-centred GDN out_norm is used as HF's γ (Megatron stores γ − 1).
      String norm = "model.language_model.layers.0.linear_attn.norm.weight";
      assertThat(weights.floats(norm)).containsExactly(
          Fixtures.loadedWeights("qwen35_moe_vl").floats(norm));
    }
  }

  @Test
  void probeRecoversTheGatedQkvLayout() {
    // 4 heads in 2 groups of head_dim 2: rank 1 holds group 1 = [q heads 2,3; gate heads 2,3; k_1; v_1].
    GatedQkvMapping mapping = new GatedQkvMapping("qkv", "q", "k", "v", 4, 2, 2);
    Map<String, Shape> shapes = new LinkedHashMap<>();
    shapes.put("q", Shape.of(16, 8));
    shapes.put("k", Shape.of(4, 8));
    shapes.put("v", Shape.of(4, 8));
    List<String> sources = MappingProbe.rows(mapping, shapes, 2, 1).stream()
        .map(source -> source.role() + source.index()).toList();
    assertThat(sources).containsExactly("q8", "q9", "q12", "q13", "q10", "q11", "q14", "q15", "k2", "k3", "v2", "v3");
  }

  @Test
  void layoutsThatDoNotDivideTheHeadsAreRejected(@TempDir Path scratch) {
    assertThatThrownBy(() -> importShards("qwen35_dense_vl", ParallelLayout.of(4, 1, 1, 1, 1), false,
        scratch.resolve("tp4")))
        .isInstanceOf(LayoutException.class).hasMessageContaining("num_key_value_heads");
    assertThatThrownBy(() -> importShards("qwen35_moe_vl", ParallelLayout.of(2, 1, 1, 3, 1), false,
        scratch.resolve("ep3")))
        .isInstanceOf(LayoutException.class).hasMessageContaining("num_experts");
  }
}
