package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
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
}
