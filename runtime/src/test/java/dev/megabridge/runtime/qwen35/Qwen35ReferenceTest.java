package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.runtime.ops.FloatMatrix;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The runtime against the transformers references of every fixture model and case. */
class Qwen35ReferenceTest {

  static final double LOGITS_TOLERANCE = 2e-4;
  static final double INTERMEDIATE_RELATIVE_TOLERANCE = 1e-4;

  static Stream<Arguments> fp32Cases() {
    return Stream.of("qwen35_dense_vl", "qwen35_moe_vl")
        .flatMap(model -> Stream.of("text", "image", "text_long").map(name -> Arguments.of(model, name)));
  }

  static Stream<Arguments> bf16Cases() {
    return Stream.of(
            List.of("qwen35_dense_vl_bf16", "qwen35_dense_vl"),
            List.of("qwen35_dense_vl_bf16_sharded", "qwen35_dense_vl"),
            List.of("qwen35_moe_vl_bf16", "qwen35_moe_vl"),
            List.of("qwen35_moe_vl_packed_bf16", "qwen35_moe_vl"))
        .flatMap(pair -> Stream.of("text", "image").map(name -> Arguments.of(pair.get(0), pair.get(1), name)));
  }

  static ForwardResult run(Qwen35Model model, SafetensorsCheckpoint reference, String name, ForwardTrace trace) {
    long[] ids = Fixtures.longs(reference, name + ".input_ids");
    Optional<ImageInput> image = name.equals("image") ? Optional.of(Fixtures.image(reference)) : Optional.empty();
    return model.forward(ids, image, trace);
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("fp32Cases")
  void fp32ModelMatchesTransformers(String modelName, String caseName) {
    Qwen35Model model = Fixtures.loaded(modelName);
    SafetensorsCheckpoint reference = Fixtures.reference(modelName);
    Map<String, float[]> traced = new HashMap<>();
    ForwardResult result = run(model, reference, caseName, (key, values, rows, columns) -> traced.put(key, values));

    long[] expectedPositions = Fixtures.longs(reference, caseName + ".position_ids");
    int length = result.positions().length();
    for (int axis = 0; axis < 3; axis++) {
      for (int token = 0; token < length; token++) {
        assertThat((long) result.positions().ids()[axis][token])
            .as("position id axis %d token %d", axis, token).isEqualTo(expectedPositions[axis * length + token]);
      }
    }

    // Intermediates in forward order, so the first mismatch names the stage at fault.
    String[] stages = {"input", "input_layernorm", "mixer", "post_attention_layernorm", "mlp", "output"};
    int compared = 0;
    for (String key : List.of("V.patch_embed", "V.block0.output", "V.block1.output", "V.merger")) {
      compared += compareIntermediate(reference, caseName + ".hf." + key, traced.get(key));
    }
    for (int layer = 0; layer < model.config().text().numHiddenLayers(); layer++) {
      for (String stage : stages) {
        String key = "L" + layer + "." + stage;
        compared += compareIntermediate(reference, caseName + ".hf." + key, traced.get(key));
      }
    }
    compared += compareIntermediate(reference, caseName + ".hf.final_norm", traced.get("final_norm"));
    assertThat(compared).as("intermediates compared").isGreaterThan(0);

    assertLogits(result.logits(), Fixtures.floats(reference, caseName + ".logits"), modelName + " " + caseName);
    assertThat(result.mtpLogits()).isPresent();
    assertLogits(result.mtpLogits().get(), Fixtures.floats(reference, caseName + ".mtp.logits"),
        modelName + " " + caseName + " mtp");

    if (model.config().moe()) {
      assertRoutingMatches(model, reference, caseName, traced);
    }
  }

  private static int compareIntermediate(SafetensorsCheckpoint reference, String key, float[] actual) {
    if (!reference.contains(key)) {
      return 0;
    }
    float[] expected = Fixtures.floats(reference, key);
    assertThat(actual).as("traced %s", key).isNotNull();
    double tolerance = INTERMEDIATE_RELATIVE_TOLERANCE * Math.max(1, Fixtures.maxAbs(expected));
    assertThat(Fixtures.maxAbsDifference(actual, expected)).as("max abs difference of %s", key)
        .isLessThanOrEqualTo(tolerance);
    return 1;
  }

  static void assertLogits(FloatMatrix actual, float[] expected, String what) {
    double difference = Fixtures.maxAbsDifference(actual.data(), expected);
    System.out.printf("%s: logits max abs difference %.3g%n", what, difference);
    assertThat(difference).as("%s logits max abs difference", what).isLessThanOrEqualTo(LOGITS_TOLERANCE);
  }

  /** Same top-k expert sets as the spec implementation, wherever the routing is not a near tie. */
  private static void assertRoutingMatches(Qwen35Model model, SafetensorsCheckpoint reference, String caseName,
      Map<String, float[]> traced) {
    int topK = model.config().text().numExpertsPerTok();
    for (int layer = 0; layer < model.config().text().numHiddenLayers(); layer++) {
      String key = caseName + ".spec.L" + layer + ".topk_idx";
      if (!reference.contains(key)) {
        continue;
      }
      long[] expected = Fixtures.longs(reference, key);
      float[] actual = traced.get("L" + layer + ".topk_idx");
      for (int token = 0; token < expected.length / topK; token++) {
        java.util.Set<Long> expectedSet = new java.util.HashSet<>();
        java.util.Set<Long> actualSet = new java.util.HashSet<>();
        for (int k = 0; k < topK; k++) {
          expectedSet.add(expected[token * topK + k]);
          actualSet.add((long) actual[token * topK + k]);
        }
        assertThat(actualSet).as("experts of layer %d token %d", layer, token).isEqualTo(expectedSet);
      }
    }
  }

  @ParameterizedTest(name = "{0} {2}")
  @MethodSource("bf16Cases")
  void bf16WeightsMatchUpcastReference(String modelName, String referenceName, String caseName) {
    Qwen35Model model = Fixtures.loaded(modelName);
    SafetensorsCheckpoint reference = Fixtures.reference(referenceName);
    ForwardResult result = run(model, reference, caseName, ForwardTrace.NONE);
    assertLogits(result.logits(), Fixtures.floats(reference, "bf16w." + caseName + ".logits"),
        modelName + " " + caseName);
    assertLogits(result.mtpLogits().orElseThrow(), Fixtures.floats(reference, "bf16w." + caseName + ".mtp.logits"),
        modelName + " " + caseName + " mtp");
  }
}
