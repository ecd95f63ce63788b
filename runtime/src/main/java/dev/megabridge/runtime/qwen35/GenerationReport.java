package dev.megabridge.runtime.qwen35;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;
import dev.megabridge.core.report.Report;

/**
 * What a generation run reports: how the model was loaded ({@code source}), the prompt's length, the generated ids
 * and, when the tokenizer knows them all, their {@code text} (null: not decoded, and no JSON key), the speeds and
 * the time of prefill plus decode.
 */
public record GenerationReport(String source, int promptTokens, long[] tokens,
    @JsonInclude(JsonInclude.Include.NON_NULL) String text, double prefillTokensPerSecond,
    double decodeTokensPerSecond, double seconds) implements Report {

  public static GenerationReport of(String source, int promptTokens, GenerationResult result, Optional<String> text) {
    return new GenerationReport(source, promptTokens, result.tokens(), text.orElse(null),
        result.prefillTokensPerSecond(), result.decodeTokensPerSecond(),
        (result.prefillNanos() + result.decodeNanos()) / 1e9);
  }

  /** The ids on one line, the text (if decoded) on the next, then the counts and speeds. */
  @Override
  public String describe() {
    return Arrays.stream(tokens).mapToObj(Long::toString).collect(Collectors.joining(",")) + "\n"
        + (text == null ? "" : text + "\n")
        + String.format(Locale.ROOT, "%d prompt tokens, %d generated (%s): prefill %.1f tokens/s, decode %.2f "
            + "tokens/s", promptTokens, tokens.length, source, prefillTokensPerSecond, decodeTokensPerSecond);
  }
}
