package dev.megabridge.runtime.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.UnsupportedModelException;
import dev.megabridge.core.error.UsageException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tokenizer on hand-made {@code tokenizer.json} files whose expected ids are derived by hand. */
class BpeTokenizerTest {

  @TempDir
  Path temp;

  @Test
  void byteAlphabetIsABijectionOnAllBytes() {
    Set<Character> chars = new HashSet<>();
    int remapped = 0;
    for (int b = 0; b < 256; b++) {
      char c = ByteLevelAlphabet.charOf(b);
      chars.add(c);
      assertThat(ByteLevelAlphabet.byteOf(c)).isEqualTo(b);
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      if (printable) {
        assertThat((int) c).isEqualTo(b);
      } else {
        assertThat((int) c).isEqualTo(0x100 + remapped++);
      }
    }
    assertThat(chars).hasSize(256);
    assertThat(remapped).isEqualTo(68);
    assertThat(ByteLevelAlphabet.charOf(' ')).isEqualTo('Ġ');
    assertThat(ByteLevelAlphabet.charOf('\n')).isEqualTo('Ċ');
    assertThat(ByteLevelAlphabet.byteOf(' ')).isEqualTo(-1);
    assertThat(ByteLevelAlphabet.byteOf('\u0144')).isEqualTo(-1);
    assertThat(ByteLevelAlphabet.byteOf('中')).isEqualTo(-1);
  }

  /**
   * Bytes have id = byte value ('a' 97, 'b' 98, 'c' 99, 'd' 100, 'Ġ' (space) 32, 'Ċ' (newline) 10); merges by rank:
   * 0 "b c" → bc 256, 1 "a b" → ab 257, 2 "bc d" → bcd 258, 3 "a bcd" → abcd 259, 4 "a a" → aa 260,
   * 5 "Ġ a" → Ġa 261, 6 "Ċ Ċ" → ĊĊ 262.
   */
  static TinyTokenizerJson handMade() {
    return new TinyTokenizerJson().merge("b", "c").merge("a", "b").merge("bc", "d").merge("a", "bcd")
        .merge("a", "a").merge("Ġ", "a").merge("Ċ", "Ċ");
  }

  @Test
  void mergesApplyByRankNotByPosition() throws IOException {
    BpeTokenizer tokenizer = BpeTokenizer.read(handMade().write(temp));
    // "abcd": pairs (a,b) r1, (b,c) r0, (c,d) none. r0 first: a·bc·d; then (bc,d) r2: a·bcd; then (a,bcd) r3: abcd.
    // Merging the leftmost mergeable pair first would give ab·c·d = [257, 99, 100].
    assertThat(tokenizer.encode("abcd")).containsExactly(259);
    // "bcab": (b,c) r0 → bc·a·b; (bc,a) none; (a,b) r1 → bc·ab.
    assertThat(tokenizer.encode("bcab")).containsExactly(256, 257);
    // "aaa": both pairs have rank 4; the leftmost merges first: aa·a (not a·aa).
    assertThat(tokenizer.encode("aaa")).containsExactly(260, 97);
    // Pre-tokenized into "abcd" and " abc"; " abc" is Ġ·a·b·c → Ġ·a·bc (r0) → Ġa·bc (r5).
    assertThat(tokenizer.encode("abcd abc")).containsExactly(259, 261, 256);
    // "x\n\ny": the pattern isolates "\n\n" (\s*[\r\n]+), merged to ĊĊ.
    assertThat(tokenizer.encode("x\n\ny")).containsExactly('x', 262, 'y');
    assertThat(tokenizer.decode(new int[] {259, 261, 256})).isEqualTo("abcd abc");
    assertThat(tokenizer.encode("")).isEmpty();
  }

  @Test
  void mergesAsPairsEqualMergesAsStrings() throws IOException {
    ObjectNode json = handMade().root();
    ArrayNode merges = (ArrayNode) json.get("model").get("merges");
    ArrayNode pairs = ((ObjectNode) json.get("model")).putArray("merges");
    merges.forEach(merge -> pairs.addArray().add(merge.textValue().split(" ")[0]).add(merge.textValue().split(" ")[1]));
    BpeTokenizer tokenizer = BpeTokenizer.read(TinyTokenizerJson.write(temp, json));
    assertThat(tokenizer.encode("abcd abc")).containsExactly(259, 261, 256);
  }

  @Test
  void textIsNormalizedToNfcAndDecodesAsUtf8() throws IOException {
    BpeTokenizer tokenizer = BpeTokenizer.read(handMade().write(temp));
    // e + COMBINING ACUTE is NFC é U+00E9 = UTF-8 C3 A9; no merges, so one id per byte.
    assertThat(tokenizer.encode("e\u0301")).containsExactly(0xC3, 0xA9);
    assertThat(tokenizer.decode(new int[] {0xC3, 0xA9})).isEqualTo("é");
    // A lone continuation byte is not UTF-8: it decodes to U+FFFD.
    assertThat(tokenizer.decode(new int[] {0xA9, 'a'})).isEqualTo("\uFFFDa");
    assertThatThrownBy(() -> tokenizer.decode(new int[] {263})).isInstanceOf(UsageException.class)
        .hasMessageContaining("263").hasMessageContaining(tokenizer.file().toString());
  }

  @Test
  void addedTokensAreMatchedLongestFirstAndNeverSplit() throws IOException {
    BpeTokenizer tokenizer = BpeTokenizer.read(handMade().added(300, "<|im_start|>", true, false)
        .added(301, "<tool>", false, false).added(302, "<tool><call>", false, false).write(temp));
    assertThat(tokenizer.encode("x<tool><call>y<tool>")).containsExactly('x', 302, 'y', 301);
    assertThat(tokenizer.encode("<|im_start|>abcd<|im_start|>")).containsExactly(300, 259, 300);
    // A partial marker is ordinary text: '<' '|' 'i' 'm' are single bytes (no merges among them).
    assertThat(tokenizer.encode("<|im")).containsExactly('<', '|', 'i', 'm');
    assertThat(tokenizer.decode(new int[] {300, 259, 302})).isEqualTo("<|im_start|>abcd<tool><call>");
    assertThat(tokenizer.tokenId("<tool>")).hasValue(301);
    assertThat(tokenizer.tokenId("bcd")).hasValue(258);
    assertThat(tokenizer.tokenId("zzz")).isEmpty();
    assertThat(tokenizer.size()).isEqualTo(303);
  }

  /**
   * Java's {@code \s} is ASCII-only unless the pattern is compiled with UNICODE_CHARACTER_CLASS; {@code tokenizers}'
   * is Unicode White_Space. "x␣␣y" with ␣ = U+3000 (or U+00A0, U+2028, U+0085): "x", then {@code \s+(?!\S)} takes
   * one ␣ (leaving the last before the letter), then {@code [^\r\n\p{L}\p{N}]?\p{L}+} takes "␣y". With an
   * ASCII {@code \s} the two ␣ would be one punctuation piece "␣␣".
   */
  @Test
  void unicodeWhitespaceSplitsLikeTokenizers() {
    SplitPattern split = SplitPattern.compile(temp.resolve("tokenizer.json"), TinyTokenizerJson.QWEN3_PATTERN);
    for (String space : List.of("\u3000", "\u00a0", "\u2028", "\u0085", "\u2003")) {
      assertThat(split.split("x" + space + space + "y")).as("U+%04X", (int) space.charAt(0))
          .containsExactly("x", space, space + "y");
    }
    // (?i) folds Unicode case: 'ſ (long s) is the contraction 's; a tab is the optional prefix of a word like a space.
    assertThat(split.split("IT'S it'\u017f 12 ab\tcd")).containsExactly("IT", "'S", " it", "'\u017f", " ", "1", "2",
        " ab", "\tcd");
  }

  @Test
  void unknownPreTokenizerTypeFailsNamingIt() throws IOException {
    ObjectNode json = handMade().root();
    json.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", "▁");
    Path file = TinyTokenizerJson.write(temp, json);
    assertThatThrownBy(() -> BpeTokenizer.read(file)).isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining(file.toString()).hasMessageContaining("pre_tokenizer.type")
        .hasMessageContaining("Metaspace");
  }

  @Test
  void unsupportedPiecesFailNamingFileAndField() throws IOException {
    assertUnsupported(json -> ((ObjectNode) json.get("pre_tokenizer").get("pretokenizers").get(0))
        .put("type", "Digits"), "pre_tokenizer.pretokenizers[0].type", "Digits");
    assertUnsupported(json -> ((ObjectNode) json.get("pre_tokenizer").get("pretokenizers").get(0))
        .put("behavior", "Removed"), "behavior", "Removed");
    assertUnsupported(json -> ((ObjectNode) json.get("pre_tokenizer").get("pretokenizers").get(1))
        .put("add_prefix_space", true), "pre_tokenizer.pretokenizers[1].add_prefix_space", "true");
    assertUnsupported(json -> json.putObject("normalizer").put("type", "NFKC"), "normalizer.type", "NFKC");
    assertUnsupported(json -> ((ObjectNode) json.get("model")).put("ignore_merges", true), "model.ignore_merges",
        "true");
    assertUnsupported(json -> ((ObjectNode) json.get("model")).put("unk_token", "<unk>"), "model.unk_token",
        "<unk>");
    assertUnsupported(json -> json.put("extra", 1), "extra", "does not know");
    assertUnsupported(json -> json.putObject("post_processor").put("type", "TemplateProcessing"),
        "post_processor.type", "TemplateProcessing");
    assertUnsupported(json -> ((ArrayNode) json.get("added_tokens")).addObject().put("id", 400).put("content", "<x>")
        .put("lstrip", true).put("special", true).put("normalized", false), "added_tokens[0].lstrip", "<x>");
    assertUnsupported(json -> ((ObjectNode) json.get("pre_tokenizer").get("pretokenizers").get(0).get("pattern"))
        .put("Regex", "\\w+|\\s+"), "Split pattern", "\\w");
    assertUnsupported(json -> ((ObjectNode) json.get("pre_tokenizer").get("pretokenizers").get(0).get("pattern"))
        .put("Regex", ".+"), "Split pattern", "'.'");
    assertUnsupported(json -> ((ObjectNode) json.get("pre_tokenizer").get("pretokenizers").get(0).get("pattern"))
        .put("Regex", "[\\p{L}&&[^a]]+"), "Split pattern", "intersection");
  }

  @Test
  void malformedVocabularyOrMergesFailNamingThem() throws IOException {
    ObjectNode noByte = handMade().root();
    ((ObjectNode) noByte.get("model").get("vocab")).remove("A");
    ((ObjectNode) noByte.get("model").get("vocab")).put("AA", 'A'); // ids stay 0..N-1, the byte 'A' has no token
    Path file = TinyTokenizerJson.write(temp.resolve("a"), noByte);
    assertThatThrownBy(() -> BpeTokenizer.read(file)).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining(file.toString()).hasMessageContaining("0x41");
    ObjectNode badMerge = handMade().root();
    ((ArrayNode) badMerge.get("model").get("merges")).add("x yz");
    Path other = TinyTokenizerJson.write(temp.resolve("b"), badMerge);
    assertThatThrownBy(() -> BpeTokenizer.read(other)).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("model.merges[7]").hasMessageContaining("'yz' is not in the vocabulary");
    ObjectNode sparse = handMade().root();
    ((ObjectNode) sparse.get("model").get("vocab")).put("zz", 5000);
    Path sparseFile = TinyTokenizerJson.write(temp.resolve("c"), sparse);
    assertThatThrownBy(() -> BpeTokenizer.read(sparseFile)).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("'zz' has id 5000");
    assertThatThrownBy(() -> BpeTokenizer.load(temp.resolve("none"))).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("tokenizer.json");
  }

  private void assertUnsupported(Consumer<ObjectNode> edit, String field, String value)
      throws IOException {
    ObjectNode json = handMade().root();
    edit.accept(json);
    Path file = TinyTokenizerJson.write(temp.resolve(Integer.toString(json.hashCode())), json);
    assertThatThrownBy(() -> BpeTokenizer.read(file)).isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining(file.toString()).hasMessageContaining(field).hasMessageContaining(value);
  }
}
