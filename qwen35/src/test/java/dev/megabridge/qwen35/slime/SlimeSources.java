package dev.megabridge.qwen35.slime;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** HF sources derived from a fixture for the slime-schema tests, written into a temporary folder. */
final class SlimeSources {
  private SlimeSources() {}

  /** The vocabulary cut to its first {@code rows} rows (embedding and output layer). */
  static Path vocabulary(Path fixture, Path target, int rows) {
    return TestCheckpoints.rewrite(fixture, target,
        config -> TestCheckpoints.textConfig(config).put("vocab_size", rows),
        tensors -> {
          for (String name : List.of("lm_head.weight", "model.language_model.embed_tokens.weight")) {
            tensors.put(name, tensors.get(name).slice(0, 0, rows));
          }
        });
  }

  /** Tied embeddings: no {@code lm_head.weight}, the top-level and the text tie flag set. */
  static Path tied(Path fixture, Path target) {
    return TestCheckpoints.rewrite(fixture, target,
        config -> {
          config.put("tie_word_embeddings", true);
          TestCheckpoints.textConfig(config).put("tie_word_embeddings", true);
        },
        tensors -> tensors.remove("lm_head.weight"));
  }

  /**
   * The text-only causal LM of a VL fixture ({@code Qwen3_5ForCausalLM} / {@code Qwen3_5MoeForCausalLM}): the text
   * config at the top level, {@code model.*} instead of {@code model.language_model.*}, no vision tower.
   */
  static Path textOnly(Path fixture, Path target) {
    return TestCheckpoints.rewrite(fixture, target,
        config -> {
          ObjectNode text = TestCheckpoints.textConfig(config).deepCopy();
          String dtype = config.get("dtype").asText();
          config.removeAll();
          config.setAll(text);
          config.putArray("architectures")
              .add(text.has("num_experts") ? "Qwen3_5MoeForCausalLM" : "Qwen3_5ForCausalLM");
          config.put("dtype", dtype);
        },
        tensors -> {
          Map<String, Tensor> renamed = new LinkedHashMap<>();
          tensors.forEach((name, tensor) -> {
            if (!name.startsWith("model.visual.")) {
              renamed.put(name.replace("model.language_model.", "model."), tensor);
            }
          });
          tensors.clear();
          tensors.putAll(renamed);
        });
  }
}
