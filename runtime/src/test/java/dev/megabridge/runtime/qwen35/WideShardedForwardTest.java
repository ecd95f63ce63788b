package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * TP 4 and TP 8 cannot run on the tiny fixtures (2 KV heads). This test widens their head counts (8 KV
 * heads, 8 GDN key/value heads, 8 vision heads), fills them with well-scaled random weights, and checks the
 * tensor-parallel forward from Megatron shards against the single-rank forward of the same HF folder.
 *
 * <p>Every row-kind input width of these models is a multiple of 8, so TP 4 and TP 8 split each row-kind layer
 * into whole canonical pieces ({@link dev.megabridge.runtime.ops.Linear.RowParallel}) and the logits must be
 * bit-identical to the single-rank forward.
 */
class WideShardedForwardTest {

  static Stream<Arguments> layouts() {
    return Stream.of(
        Arguments.of("qwen35_dense_vl", ParallelLayout.of(4, 2, 1, 1, 1)),
        Arguments.of("qwen35_dense_vl", ParallelLayout.of(8, 1, 1, 1, 1)),
        Arguments.of("qwen35_moe_vl", ParallelLayout.of(4, 1, 1, 4, 2)),
        Arguments.of("qwen35_moe_vl", ParallelLayout.of(8, 2, 1, 8, 1)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("layouts")
  void wideShardedForwardMatchesSingleRank(String fixture, ParallelLayout layout, @TempDir Path scratch)
      throws IOException {
    Path hf = widen(Fixtures.model(fixture), scratch.resolve("hf"));
    Path shards = scratch.resolve("shards");
    Importer.run(hf, shards, new Importer.Options(layout, BridgeOptions.defaults(), Optional.empty(), false, 2),
        AutoBridge.discover(), Progress.NONE);
    long[] inputIds = new SplittableRandom(3).longs(24, 0, 900).toArray();
    try (Qwen35Model single = Qwen35Model.load(hf, RuntimeOptions.defaults().withThreads(2));
        Qwen35Model sharded = Qwen35Model.load(shards, RuntimeOptions.defaults().withThreads(2))) {
      ForwardResult expected = single.forward(inputIds, Optional.empty());
      ForwardResult actual = sharded.forward(inputIds, Optional.empty());
      float[] want = expected.logits().data();
      String what = fixture + " " + layout.describe();
      assertThat(Fixtures.maxAbs(want)).as("logits must be non-trivial").isGreaterThan(1.5);
      System.out.printf("%s: max |Δ| logits %.3g, MTP logits %.3g%n", what,
          Fixtures.maxAbsDifference(actual.logits().data(), want), Fixtures.maxAbsDifference(
              actual.mtpLogits().orElseThrow().data(), expected.mtpLogits().orElseThrow().data()));
      assertThat(actual.logits().data()).as(what + " logits").isEqualTo(want);
      assertThat(actual.mtpLogits().orElseThrow().data()).as(what + " MTP logits")
          .isEqualTo(expected.mtpLogits().orElseThrow().data());
    }
  }

  /** A widened copy of the fixture's config with random F32 weights of realistic scale. */
  static Path widen(Path fixture, Path output) throws IOException {
    Files.createDirectories(output);
    ObjectNode config = HfConfig.load(fixture).raw().deepCopy();
    ObjectNode text = (ObjectNode) config.get("text_config");
    text.put("num_attention_heads", 16).put("num_key_value_heads", 8).put("head_dim", 16);
    text.put("linear_num_key_heads", 8).put("linear_num_value_heads", 8).put("linear_key_head_dim", 8)
        .put("linear_value_head_dim", 8);
    ((ObjectNode) text.get("rope_parameters")).putArray("mrope_section").add(1).add(1).add(0);
    ((ObjectNode) config.get("vision_config")).put("num_heads", 8);
    Files.writeString(output.resolve("config.json"), config.toPrettyString());
    for (String small : List.of("generation_config.json", "preprocessor_config.json")) {
      Files.copy(fixture.resolve(small), output.resolve(small));
    }
    BridgeModel model = AutoBridge.discover().fromConfig(HfConfig.load(output), Optional.empty(),
        BridgeOptions.defaults());
    SplittableRandom random = new SplittableRandom(11);
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    for (HfTensorSpec spec : model.hfTensors()) {
      entries.add(new SafetensorsWriter.Entry(spec.name(), randomTensor(spec, random)));
    }
    SafetensorsWriter.writeFile(output.resolve("model.safetensors"), entries, bytes -> { });
    return output;
  }

  /** Values like a trained model's: 1/sqrt(fan-in) linears, zero-centred norms near 0, plain norms near 1. */
  private static Tensor randomTensor(HfTensorSpec spec, SplittableRandom random) {
    String name = spec.name();
    Shape shape = spec.shape();
    float[] values = new float[Math.toIntExact(shape.numel())];
    boolean plainNorm = name.endsWith("linear_attn.norm.weight")
        || (name.startsWith("model.visual.") && (name.contains("norm")) && name.endsWith(".weight"));
    for (int index = 0; index < values.length; index++) {
      double gaussian = random.nextGaussian();
      values[index] = (float) (name.endsWith("A_log") ? Math.log(1 + 15 * random.nextDouble())
          : name.endsWith("dt_bias") ? 0.1 * gaussian
          // Decisive routers: top-k margins far above rounding noise, so no token flips experts between layouts.
          : name.endsWith("mlp.gate.weight") ? 20 * gaussian / Math.sqrt(shape.dim(1))
          : plainNorm ? 1 + 0.1 * gaussian
          : shape.rank() == 1 ? 0.05 * gaussian
          : residualWrite(name) ? 0.2 * gaussian / Math.sqrt(shape.dim(shape.rank() - 1))
          : gaussian / Math.sqrt(shape.dim(shape.rank() - 1) * (shape.rank() > 2 ? shape.dim(1) : 1)));
    }
    return Tensor.ofFloats(shape, values);
  }

  /** Projections that write into the residual stream: kept small, as in trained models. */
  private static boolean residualWrite(String name) {
    return name.contains("language_model.") || name.startsWith("mtp.")
        ? name.endsWith("o_proj.weight") || name.endsWith("out_proj.weight") || name.endsWith("down_proj.weight")
        : false;
  }
}
