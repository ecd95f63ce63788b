package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code megabridge generate}: greedy tokens equal transformers' from HF and from TP-2 shards. */
class GenerateCommandTest {

  @Test
  void greedyGenerationMatchesTransformersFromHfAndShards(@TempDir Path scratch) throws Exception {
    Path model = CliFixtures.tiny().resolve("qwen35_dense_vl");
    long[] prompt;
    long[] expected;
    try (SafetensorsCheckpoint reference = CliFixtures.reference("qwen35_dense_vl")) {
      prompt = CliFixtures.longs(reference, "text.input_ids");
      expected = CliFixtures.longs(reference, "text.greedy.tokens_generate");
    }
    String ids = Arrays.stream(prompt).mapToObj(Long::toString).collect(Collectors.joining(","));
    Path shards = scratch.resolve("megatron");
    assertThat(CliFixtures.execute("import", model.toString(), shards.toString(), "--tp", "2", "--pp", "2",
        "--quiet").exitCode()).isZero();
    for (Path source : new Path[] {model, shards}) {
      CliFixtures.Run run = CliFixtures.execute("generate", source.toString(), "--prompt-ids", ids,
          "--max-new-tokens", String.valueOf(expected.length), "--threads", "2", "--json");
      assertThat(run.exitCode()).as("exit code for %s", source).isZero();
      JsonNode report = HfConfig.JSON.readTree(run.stdout());
      long[] tokens = new long[report.get("tokens").size()];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = report.get("tokens").get(i).asLong();
      }
      assertThat(tokens).as("tokens from %s", source).containsExactly(expected);
      assertThat(report.get("decode_tokens_per_second").asDouble()).isPositive();
    }
  }

  @Test
  void rejectsBadSamplingArguments() {
    Path model = CliFixtures.tiny().resolve("qwen35_dense_vl");
    assertThat(CliFixtures.execute("generate", model.toString(), "--prompt-ids", "1,2", "--top-p", "0")
        .exitCode()).isEqualTo(2);
    assertThat(CliFixtures.execute("generate", model.toString(), "--prompt-ids", "1,x").exitCode()).isEqualTo(2);
  }

  @Test
  void expandsOneImagePlaceholder() {
    assertThat(GenerateCommand.expandImagePlaceholder(new long[] {5, 9, 6}, 9, 3)).containsExactly(5, 9, 9, 9, 6);
    assertThat(GenerateCommand.expandImagePlaceholder(new long[] {9, 9}, 9, 2)).containsExactly(9, 9);
  }

  /**
   * {@code --prompt TEXT --chat}: the text is wrapped in the ChatML user turn and encoded with the folder's
   * tokenizer.json (the byte-level test tokenizer: one id per byte, specials at the fixture's ids), so the run
   * equals {@code --prompt-ids} with those ids written out by hand; generated ids the tokenizer knows are printed
   * as text.
   */
  @Test
  void textPromptsAreEncodedWithTheModelsTokenizer(@TempDir Path scratch) throws Exception {
    Path model = CliTest.copyFolder(CliFixtures.tiny().resolve("qwen35_dense_vl"), scratch.resolve("model"));
    Files.copy(CliFixtures.tiny().resolveSibling("tokenizer-tiny").resolve("tokenizer.json"),
        model.resolve("tokenizer.json"));
    StringBuilder ids = new StringBuilder("961");
    for (char c : "user\nhi there<|im_end|>\n<|im_start|>assistant\n".toCharArray()) {
      ids.append(',').append((int) c);
    }
    String expectedIds = ids.toString().replace("60,124,105,109,95,101,110,100,124,62", "962")
        .replace("60,124,105,109,95,115,116,97,114,116,124,62", "961");
    CliFixtures.Run byText = CliFixtures.execute("generate", model.toString(), "--prompt", "hi there", "--chat",
        "--max-new-tokens", "3", "--threads", "2", "--json");
    CliFixtures.Run byIds = CliFixtures.execute("generate", model.toString(), "--prompt-ids", expectedIds,
        "--max-new-tokens", "3", "--threads", "2", "--json");
    assertThat(byText.exitCode()).as(byText.stdout()).isZero();
    JsonNode text = HfConfig.JSON.readTree(byText.stdout());
    JsonNode idReport = HfConfig.JSON.readTree(byIds.stdout());
    assertThat(text.get("prompt_tokens").asInt()).isEqualTo(expectedIds.split(",").length);
    assertThat(text.get("tokens")).isEqualTo(idReport.get("tokens"));
    assertThat(CliFixtures.execute("generate", model.toString(), "--prompt", "x", "--prompt-ids", "1").exitCode())
        .isEqualTo(2);
    assertThat(CliFixtures.execute("generate", model.toString(), "--prompt-ids", "1", "--chat").exitCode())
        .isEqualTo(2);
  }
}
