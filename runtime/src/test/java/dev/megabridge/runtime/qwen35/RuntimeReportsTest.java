package dev.megabridge.runtime.qwen35;

import static dev.megabridge.core.report.ReportsTest.keys;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.report.ReportJson;
import dev.megabridge.runtime.verify.LogprobParity.HeadComparison;
import dev.megabridge.runtime.verify.LogprobParity.Worst;
import dev.megabridge.runtime.verify.LogprobVerification;
import dev.megabridge.runtime.verify.LogprobVerification.PromptResult;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The reports of forward, generate and verify (log-probs): their lines and their JSON keys. */
class RuntimeReportsTest {

  @Test
  void generationReportsTheTextOnlyWhenDecoded() {
    // 3 prompt tokens in 0.5 s of prefill, 3 tokens of which 2 decode steps in 0.25 s.
    GenerationResult result = new GenerationResult(new long[] {7, 8, 9}, 3, 500_000_000L, 250_000_000L);
    GenerationReport ids = GenerationReport.of("hf", 3, result, Optional.empty());
    assertThat(ids.describe()).isEqualTo("7,8,9\n3 prompt tokens, 3 generated (hf): prefill 6.0 tokens/s, decode "
        + "8.00 tokens/s");
    assertThat(keys(ReportJson.tree(ids))).containsExactly("source", "prompt_tokens", "tokens",
        "prefill_tokens_per_second", "decode_tokens_per_second", "seconds");
    assertThat(ReportJson.tree(ids).get("seconds").asDouble()).isEqualTo(0.75);
    GenerationReport text = GenerationReport.of("hf", 3, result, Optional.of("abc"));
    assertThat(text.describe()).startsWith("7,8,9\nabc\n3 prompt tokens");
    assertThat(keys(ReportJson.tree(text))).containsSequence("tokens", "text", "prefill_tokens_per_second");
  }

  @Test
  void forwardSummaryNamesTheOutputAsGivenAndWritesItAbsoluteInJson() {
    ForwardFiles.Summary summary = new ForwardFiles.Summary(Path.of("model"), "shards, TP 2", 5, 1024, true,
        Path.of("out.safetensors"), 1.5);
    assertThat(summary.describe()).isEqualTo("forward (shards, TP 2): 5 tokens × 1024 logits + MTP logits → "
        + "out.safetensors in 1.50 s");
    JsonNode json = ReportJson.tree(summary);
    assertThat(keys(json)).containsExactly("model", "source", "tokens", "vocabulary", "mtp_logits", "output",
        "seconds");
    assertThat(json.get("output").asText()).isEqualTo(Path.of("out.safetensors").toAbsolutePath().toString());
  }

  @Test
  void logprobVerificationPrintsEachPromptThenTheVerdict() {
    HeadComparison main = new HeadComparison(4, 0.002, 0.001, 1, 5, 5);
    HeadComparison mtp = new HeadComparison(3, 0.0005, 0.0001, 0, 3, 4);
    LogprobVerification report = new LogprobVerification(Path.of("a"), Path.of("b"), 1e-3, false, 0.002, 0.0006,
        new Worst("p", "main", 1, 0.002), 2.0, List.of(new PromptResult("p", 5, main, mtp),
            new PromptResult("q", 2, main, null)));
    assertThat(report.describe()).isEqualTo("""
        p (5 tokens): main max |Δ log p| 0.00200 mean 0.00100, greedy agreement 5/5; mtp max |Δ log p| 0.000500 \
        mean 0.000100, greedy agreement 3/4
        q (2 tokens): main max |Δ log p| 0.00200 mean 0.00100, greedy agreement 5/5
        max |Δ log p| 0.00200, mean 0.000600 (tolerance 0.00100) in 2.00 s: they differ""");
    JsonNode json = ReportJson.tree(report);
    assertThat(keys(json)).containsExactly("mode", "left", "right", "tolerance", "within_tolerance",
        "max_abs_logprob_diff", "mean_abs_logprob_diff", "worst", "seconds", "prompts");
    assertThat(keys(json.get("prompts").get(1))).containsExactly("label", "tokens", "main", "mtp");
    assertThat(json.get("prompts").get(1).get("mtp").isNull()).isTrue();
    assertThatThrownBy(report::requireWithinTolerance).isInstanceOf(CheckpointFormatException.class)
        .hasMessage("|Δ log p| 0.00200000 beyond tolerance 0.00100 at prompt p, main head, position 1");
  }
}
