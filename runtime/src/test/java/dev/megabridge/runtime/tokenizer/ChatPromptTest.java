package dev.megabridge.runtime.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.qwen35.Qwen35Config;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Qwen3.5's ChatML prompt over the hand-made tokenizer of {@link BpeTokenizerTest} (bytes have id = byte value,
 * "abcd" is 259, "\n\n" is 262) with the special token ids of the tiny fixture (its tiny_special_tokens.json), checked
 * against the fixture's config.json.
 */
class ChatPromptTest {
  private static final Path FIXTURE = Path.of(System.getProperty("megabridge.fixtures"), "qwen35-tiny",
      "qwen35_dense_vl");

  @TempDir
  Path temp;

  private static Qwen35Config fixtureConfig() {
    HfConfig config = HfConfig.load(FIXTURE);
    return Qwen35Config.parse(config, config.architectures().getFirst());
  }

  /** The hand-made tokenizer with the fixture's ids for the ChatML and vision markers, one of them replaced. */
  private BpeTokenizer tokenizer(String marker, int id) throws IOException {
    JsonNode ids = HfConfig.JSON.readTree(FIXTURE.resolve("tiny_special_tokens.json").toFile()).get("ids");
    TinyTokenizerJson json = BpeTokenizerTest.handMade();
    for (String name : new String[] {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
        "<|vision_end|>", "<|image_pad|>"}) {
      json.added(name.equals(marker) ? id : ids.get(name).intValue(), name, true, false);
    }
    return BpeTokenizer.read(json.write(temp.resolve(marker + id)));
  }

  /** The hand-made tokenizer with exactly the fixture's ids. */
  private BpeTokenizer fixtureTokenizer() throws IOException {
    return tokenizer("", 0);
  }

  private static int[] bytes(String text) {
    return text.chars().toArray();
  }

  private static int[] concat(int[]... parts) {
    return Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
  }

  @Test
  void userTurnWithImagesBeforeTheText() throws IOException {
    Qwen35Config config = fixtureConfig();
    assertThat(config.imageTokenId()).isEqualTo(972);
    ChatPrompt chat = ChatPrompt.forModel(fixtureTokenizer(), config);
    // im_start 961, "user" "\n", vision_start 969, 3 × image_pad 972, vision_end 970, again with 2 pads, "abcd" 259,
    // im_end 962, "\n", im_start, "assistant" "\n".
    assertThat(chat.user("abcd", 3, 2)).containsExactly(concat(new int[] {961}, bytes("user\n"),
        new int[] {969, 972, 972, 972, 970, 969, 972, 972, 970, 259, 962}, bytes("\n"), new int[] {961},
        bytes("assistant\n")));
    assertThat(ChatPrompt.render("hi", 1)).isEqualTo(
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n<|im_start|>assistant\n");
  }

  /** "user\n" and the text are one stretch between markers, so "\n" + "\n" meet and merge, as in HF's template. */
  @Test
  void textOnlyTurnIsEncodedAsOneString() throws IOException {
    ChatPrompt chat = ChatPrompt.forModel(fixtureTokenizer(), fixtureConfig());
    assertThat(chat.user("\nabcd")).containsExactly(concat(new int[] {961}, bytes("user"), new int[] {262, 259, 962},
        bytes("\n"), new int[] {961}, bytes("assistant\n")));
  }

  @Test
  void tokenizerAndConfigMustAgreeOnVisionIds() throws IOException {
    BpeTokenizer tokenizer = tokenizer("<|image_pad|>", 999);
    assertThatThrownBy(() -> ChatPrompt.forModel(tokenizer, fixtureConfig())).isInstanceOf(ConfigException.class)
        .hasMessageContaining("image_token_id is 972").hasMessageContaining("<|image_pad|> the id 999")
        .hasMessageContaining(FIXTURE.resolve("config.json").toString())
        .hasMessageContaining(tokenizer.file().toString());
    BpeTokenizer startMismatch = tokenizer("<|vision_start|>", 970 + 100);
    assertThatThrownBy(() -> ChatPrompt.forModel(startMismatch, fixtureConfig()))
        .isInstanceOf(ConfigException.class).hasMessageContaining("vision_start_token_id is 969");
    BpeTokenizer noChatMarkers = BpeTokenizer.read(BpeTokenizerTest.handMade().write(temp.resolve("plain")));
    assertThatThrownBy(() -> ChatPrompt.forModel(noChatMarkers, fixtureConfig())).isInstanceOf(ConfigException.class)
        .hasMessageContaining("no added token <|im_start|>");
  }

  @Test
  void imagePadCountIsTheMergedGrid() throws IOException {
    assertThat(ChatPrompt.imagePadCount(1, 4, 6, 2)).isEqualTo(6);
    assertThat(ChatPrompt.imagePadCount(2, 16, 16, 2)).isEqualTo(128);
    assertThatThrownBy(() -> ChatPrompt.imagePadCount(1, 3, 3, 2)).isInstanceOf(UsageException.class)
        .hasMessageContaining("1×3×3");
    ChatPrompt chat = ChatPrompt.forModel(fixtureTokenizer(), fixtureConfig());
    assertThatThrownBy(() -> chat.user("look <|image_pad|>", 1)).isInstanceOf(UsageException.class)
        .hasMessageContaining("<|image_pad|>");
    assertThatThrownBy(() -> chat.user("x", 0)).isInstanceOf(UsageException.class);
  }
}
