package dev.megabridge.runtime.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.torchdist.InteropScript;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The tokenizer equals Hugging Face {@code tokenizers}: {@code scripts/interop/tokenizer_reference.sh} (in a venv it
 * creates from the machine's local package index) trains a byte-level BPE with Qwen's pre-tokenizer, NFC and
 * special tokens, and writes the ids {@code tokenizers} gives 3,000+ generated strings (multilingual, emoji with ZWJ
 * sequences, whitespace runs with Unicode spaces, digits, code, added tokens inside text, the empty string), for
 * Qwen3.5's pattern and Qwen2/Qwen3's. Here every id list must be identical, decoding must equal
 * {@code tokenizers}' decode (also of every single id, where partial UTF-8 becomes U+FFFD, and of random id runs),
 * and decode(encode(s)) = s for every string that is its own NFC; for the others it is s normalized to NFC between
 * added tokens, which is what {@code tokenizers} decodes too.
 */
class TokenizerInteropTest {
  private static final int NO_PYTHON = 3;

  @TempDir
  static Path reference;

  @BeforeAll
  static void runTokenizers() throws Exception {
    Path script = Path.of(System.getProperty("megabridge.root")).resolve("scripts/interop/tokenizer_reference.sh");
    InteropScript.Result result = InteropScript.run(List.of("bash", script.toString(), reference.toString()), 1200);
    // Skipping is allowed for one reason only: the machine has no python3 at all (exit 3).
    Assumptions.assumeTrue(result.exitCode() != NO_PYTHON, "no python3 on this machine: " + result.output());
    if (result.exitCode() != 0) {
      fail("tokenizer_reference.sh failed (exit " + result.exitCode() + "):\n" + result.output());
    }
  }

  private static JsonNode expected(String variant) throws IOException {
    return HfConfig.JSON.readTree(reference.resolve(variant).resolve("expected.json").toFile());
  }

  private static int[] ints(JsonNode array) {
    int[] values = new int[array.size()];
    for (int i = 0; i < values.length; i++) {
      values[i] = array.get(i).intValue();
    }
    return values;
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen35", "qwen3"})
  void encodesEveryStringToTheSameIds(String variant) throws IOException {
    BpeTokenizer tokenizer = BpeTokenizer.load(reference.resolve(variant));
    JsonNode expected = expected(variant);
    JsonNode strings = expected.get("strings");
    assertThat(strings.size()).isGreaterThan(3000);
    List<String> mismatches = new ArrayList<>();
    for (int i = 0; i < strings.size(); i++) {
      String text = strings.get(i).textValue();
      int[] want = ints(expected.get("ids").get(i));
      int[] got = tokenizer.encode(text);
      if (!Arrays.equals(want, got)) {
        mismatches.add("#" + i + " " + HfConfig.JSON.writeValueAsString(text) + "\n  tokenizers " + Arrays.toString(want)
            + "\n  megabridge " + Arrays.toString(got));
      }
    }
    assertThat(mismatches).as(mismatches.size() + " of " + strings.size() + " strings differ; the first:\n"
        + String.join("\n", mismatches.subList(0, Math.min(5, mismatches.size())))).isEmpty();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"qwen35", "qwen3"})
  void decodesLikeTokenizersAndRoundTrips(String variant) throws IOException {
    BpeTokenizer tokenizer = BpeTokenizer.load(reference.resolve(variant));
    JsonNode expected = expected(variant);
    JsonNode strings = expected.get("strings");
    int notNfc = 0;
    for (int i = 0; i < strings.size(); i++) {
      String text = strings.get(i).textValue();
      String decoded = tokenizer.decode(ints(expected.get("ids").get(i)));
      assertThat(decoded).as("#%d decode", i).isEqualTo(expected.get("decoded").get(i).textValue());
      String roundTrip = tokenizer.decode(tokenizer.encode(text));
      if (Normalizer.isNormalized(text, Normalizer.Form.NFC)) {
        assertThat(roundTrip).as("#%d decode(encode(s))", i).isEqualTo(text);
      } else {
        notNfc++;
        assertThat(roundTrip).as("#%d decode(encode(s)) of a non-NFC string", i).isEqualTo(decoded);
      }
    }
    assertThat(notNfc).as("strings that are not NFC (exercising the normalizer)").isGreaterThan(10);
    JsonNode singles = expected.get("single_ids");
    assertThat(singles.size()).isEqualTo(tokenizer.size());
    for (int id = 0; id < singles.size(); id++) {
      assertThat(tokenizer.decode(new int[] {id})).as("decode([%d])", id).isEqualTo(singles.get(id).textValue());
    }
    JsonNode runs = expected.get("id_runs");
    for (int i = 0; i < runs.size(); i++) {
      assertThat(tokenizer.decode(ints(runs.get(i)))).as("decode(%s)", runs.get(i))
          .isEqualTo(expected.get("id_runs_decoded").get(i).textValue());
    }
  }

  /** The same tokenizer with its merges written as {@code "a b"} strings (the older format) encodes the same. */
  @Test
  void mergesAsStringsEncodeTheSame() throws IOException {
    ObjectNode json = (ObjectNode) HfConfig.JSON.readTree(reference.resolve("qwen35/tokenizer.json").toFile());
    ArrayNode pairs = (ArrayNode) json.get("model").get("merges");
    assertThat(pairs.get(0).isArray()).as("tokenizers writes merges as pairs").isTrue();
    ArrayNode strings = ((ObjectNode) json.get("model")).putArray("merges");
    pairs.forEach(pair -> strings.add(pair.get(0).textValue() + " " + pair.get(1).textValue()));
    Path dir = Files.createDirectories(reference.resolve("qwen35-string-merges"));
    Files.writeString(dir.resolve(BpeTokenizer.FILE_NAME), HfConfig.JSON.writeValueAsString(json));
    BpeTokenizer tokenizer = BpeTokenizer.load(dir);
    JsonNode expected = expected("qwen35");
    for (int i = 0; i < expected.get("strings").size(); i++) {
      assertThat(tokenizer.encode(expected.get("strings").get(i).textValue())).as("#%d", i)
          .containsExactly(ints(expected.get("ids").get(i)));
    }
  }
}
