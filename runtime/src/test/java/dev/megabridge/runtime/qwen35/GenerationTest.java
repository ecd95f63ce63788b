package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Greedy generation with the KV cache / recurrent state against transformers and against re-running. */
class GenerationTest {

  static Stream<Arguments> cases() {
    return Stream.of("qwen35_dense_vl", "qwen35_moe_vl")
        .flatMap(model -> Stream.of("text", "image").map(name -> Arguments.of(model, name)));
  }

  private static double[] margins(String model, String caseName) throws IOException {
    JsonNode meta = HfConfig.JSON.readTree(Files.readString(Fixtures.root().resolve("reference").resolve(model)
        .resolve("meta.json")));
    JsonNode values = meta.path("cases").path(caseName).path("greedy_margins");
    double[] margins = new double[values.size()];
    for (int i = 0; i < margins.length; i++) {
      margins[i] = values.get(i).asDouble();
    }
    return margins;
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void cachedGreedyMatchesTransformersAndRerunning(String modelName, String caseName) throws IOException {
    Qwen35Model model = Fixtures.loaded(modelName);
    SafetensorsCheckpoint reference = Fixtures.reference(modelName);
    long[] prompt = Fixtures.longs(reference, caseName + ".input_ids");
    Optional<ImageInput> image = caseName.equals("image") ? Optional.of(Fixtures.image(reference)) : Optional.empty();
    long[] expectedTokens = Fixtures.longs(reference, caseName + ".greedy.tokens_generate");
    float[] expectedLogits = Fixtures.floats(reference, caseName + ".greedy.step_logits_generate");
    double[] margins = margins(modelName, caseName);
    int vocabulary = model.vocabularySize();

    List<float[]> stepLogits = new ArrayList<>();
    GenerationResult result = model.generate(prompt, image, expectedTokens.length, Sampling.greedy(),
        (step, token, logits) -> stepLogits.add(logits.clone()));
    assertThat(result.tokens()).hasSize(expectedTokens.length);

    for (int step = 0; step < expectedTokens.length; step++) {
      if (margins[step] <= 1e-3) {
        break; // a near tie: later steps may legitimately diverge
      }
      assertThat(result.tokens()[step]).as("token %d", step).isEqualTo(expectedTokens[step]);
      float[] expected = Arrays.copyOfRange(expectedLogits, step * vocabulary, (step + 1) * vocabulary);
      assertThat(Fixtures.maxAbsDifference(stepLogits.get(step), expected)).as("step %d logits", step)
          .isLessThanOrEqualTo(Qwen35ReferenceTest.LOGITS_TOLERANCE);
    }

    // Without a cache: re-run the whole sequence for every step; same tokens, same logits up to rounding.
    for (int step = 0; step < result.tokens().length; step++) {
      long[] sequence = Arrays.copyOf(prompt, prompt.length + step);
      System.arraycopy(result.tokens(), 0, sequence, prompt.length, step);
      float[] full = model.forward(sequence, image).logits().row(sequence.length - 1);
      assertThat(Sampling.argmax(full, 0, full.length)).as("no-cache argmax at step %d", step)
          .isEqualTo((int) result.tokens()[step]);
      assertThat(Fixtures.maxAbsDifference(stepLogits.get(step), full)).as("cache vs no-cache step %d", step)
          .isLessThanOrEqualTo(5e-5);
    }
  }

  @Test
  void seededSamplingIsReproducibleAndTinyTopPIsGreedy() {
    Qwen35Model model = Fixtures.loaded("qwen35_dense_vl");
    long[] prompt = Fixtures.longs(Fixtures.reference("qwen35_dense_vl"), "text.input_ids");
    Sampling hot = new Sampling(1.5, 0.95, 42, Set.of());
    long[] first = model.generate(prompt, Optional.empty(), 12, hot).tokens();
    long[] second = model.generate(prompt, Optional.empty(), 12, hot).tokens();
    long[] otherSeed = model.generate(prompt, Optional.empty(), 12, new Sampling(1.5, 0.95, 7, Set.of())).tokens();
    assertThat(second).isEqualTo(first);
    assertThat(otherSeed).isNotEqualTo(first);

    long[] greedy = model.generate(prompt, Optional.empty(), 6, Sampling.greedy()).tokens();
    long[] nucleusOfOne = model.generate(prompt, Optional.empty(), 6, new Sampling(1.0, 1e-6, 3, Set.of())).tokens();
    assertThat(nucleusOfOne).isEqualTo(greedy);

    long[] stopped = model.generate(prompt, Optional.empty(), 6, Sampling.greedy().withStopTokens(Set.of(greedy[1])))
        .tokens();
    assertThat(stopped).containsExactly(greedy[0], greedy[1]);
  }
}
