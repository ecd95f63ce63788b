package dev.megabridge.runtime.tokenizer;

import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.qwen35.Qwen35Config;

/**
 * Qwen3.5's ChatML prompt for one user turn followed by the assistant's generation prompt:
 * <pre>
 * &lt;|im_start|&gt;user\n{images}{text}&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n
 * </pre>
 * where each image is {@code <|vision_start|>}, N × {@code <|image_pad|>}, {@code <|vision_end|>} (N = the image's
 * patch grid t·h·w over spatial_merge_size²). The whole rendered string is encoded at once, as
 * {@code apply_chat_template} followed by {@code encode} does, so the text next to the markers is split exactly as
 * Hugging Face splits it. The vision marker ids the model looks for (its config) are checked against the tokenizer's
 * added tokens when the tokenizer has them.
 */
public final class ChatPrompt {
  public static final String IM_START = "<|im_start|>";
  public static final String IM_END = "<|im_end|>";
  public static final String VISION_START = "<|vision_start|>";
  public static final String VISION_END = "<|vision_end|>";
  public static final String IMAGE_PAD = "<|image_pad|>";

  private final BpeTokenizer tokenizer;

  private ChatPrompt(BpeTokenizer tokenizer) {
    this.tokenizer = tokenizer;
  }

  /**
   * A prompt builder for a model with {@code config}; fails if the tokenizer's {@code <|vision_start|>},
   * {@code <|image_pad|>} or {@code <|vision_end|>} has another id than the config's
   * {@code vision_start_token_id}, {@code image_token_id} or {@code vision_end_token_id}, or if the tokenizer lacks
   * {@code <|im_start|>} or {@code <|im_end|>} as added tokens.
   */
  public static ChatPrompt forModel(BpeTokenizer tokenizer, Qwen35Config config) {
    checkAgrees(tokenizer, config, VISION_START, "vision_start_token_id", config.visionStartTokenId());
    checkAgrees(tokenizer, config, IMAGE_PAD, "image_token_id", config.imageTokenId());
    checkAgrees(tokenizer, config, VISION_END, "vision_end_token_id", config.visionEndTokenId());
    for (String marker : new String[] {IM_START, IM_END}) {
      if (tokenizer.addedToken(marker).isEmpty()) {
        throw new ConfigException(tokenizer.file() + ": has no added token " + marker + ", which the ChatML prompt"
            + " needs");
      }
    }
    return new ChatPrompt(tokenizer);
  }

  private static void checkAgrees(BpeTokenizer tokenizer, Qwen35Config config, String marker, String key,
      long configId) {
    tokenizer.addedToken(marker).ifPresent(token -> {
      if (token.id() != configId) {
        throw new ConfigException(config.source().file() + ": " + key + " is " + configId + " but "
            + tokenizer.file() + " gives " + marker + " the id " + token.id());
      }
    });
  }

  /** The number of image pad tokens of an image whose patch grid is {@code frames × height × width}. */
  public static int imagePadCount(int frames, int height, int width, int spatialMergeSize) {
    long patches = (long) frames * height * width;
    long merge = (long) spatialMergeSize * spatialMergeSize;
    if (frames <= 0 || height <= 0 || width <= 0 || spatialMergeSize <= 0 || patches % merge != 0
        || patches / merge > Integer.MAX_VALUE) {
      throw new UsageException("image grid " + frames + "×" + height + "×" + width + " does not merge into whole"
          + " tokens with spatial_merge_size " + spatialMergeSize);
    }
    return (int) (patches / merge);
  }

  /** The rendered prompt text for a user turn with images of {@code imagePadCounts} pad tokens each, then text. */
  public static String render(String text, int... imagePadCounts) {
    StringBuilder prompt = new StringBuilder(IM_START).append("user\n");
    for (int count : imagePadCounts) {
      if (count <= 0) {
        throw new UsageException("an image needs at least one " + IMAGE_PAD + " token, not " + count);
      }
      prompt.append(VISION_START).append(IMAGE_PAD.repeat(count)).append(VISION_END);
    }
    return prompt.append(text).append(IM_END).append('\n').append(IM_START).append("assistant\n").toString();
  }

  /**
   * The ids of a user turn: {@code imagePadCounts.length} images, in order, then {@code text}. The text may not
   * itself contain vision markers (they would not belong to an image).
   */
  public int[] user(String text, int... imagePadCounts) {
    for (String marker : new String[] {VISION_START, IMAGE_PAD, VISION_END}) {
      if (text.contains(marker)) {
        throw new UsageException("the prompt text contains " + marker + "; images are passed as images, not as"
            + " markers in the text");
      }
    }
    if (imagePadCounts.length > 0) {
      for (String marker : new String[] {VISION_START, IMAGE_PAD, VISION_END}) {
        if (tokenizer.addedToken(marker).isEmpty()) {
          throw new ConfigException(tokenizer.file() + ": has no added token " + marker + ", so the prompt cannot"
              + " hold an image");
        }
      }
    }
    return tokenizer.encode(render(text, imagePadCounts));
  }
}
