package dev.megabridge.runtime.verify;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.runtime.qwen35.GridThw;
import dev.megabridge.runtime.qwen35.ImageInput;
import dev.megabridge.runtime.qwen35.ImagePreprocessor;
import dev.megabridge.runtime.qwen35.ImagePreprocessor.RgbImage;
import dev.megabridge.runtime.tokenizer.BpeTokenizer;
import dev.megabridge.runtime.tokenizer.ChatPrompt;
import dev.megabridge.runtime.verify.LogprobParity.Prompt;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.LongStream;

/**
 * The prompts {@code verify} runs: the defaults built from the config alone (a text prompt and an image prompt with
 * a generated picture), or a JSONL file of {@code {"input_ids": [...]}} and {@code {"text": "...", "images":
 * ["a.png"]}} objects, image paths relative to the file. Text goes through the model's {@code tokenizer.json} and
 * Qwen3.5's ChatML user turn.
 */
public final class VerifyPrompts {
  private static final int DEFAULT_TEXT_TOKENS = 24;
  private static final int DEFAULT_IMAGE_SIDE = 256;

  private VerifyPrompts() {}

  /**
   * A text prompt of ordinary token ids (below every special id the config names) and an image prompt: ids, then
   * {@code <|vision_start|>}, the image's pad tokens, {@code <|vision_end|>}, more ids. The image is a generated
   * 256 × 256 picture (gradients and a checkerboard), so no file is needed.
   */
  public static List<Prompt> defaults(Qwen35Config config, ImagePreprocessor preprocessor, int vocabulary) {
    long bound = LongStream.of(vocabulary, config.imageTokenId(), config.visionStartTokenId(),
        config.visionEndTokenId()).filter(id -> id > 0).min().orElse(vocabulary);
    long[] text = ordinaryIds(DEFAULT_TEXT_TOKENS, bound, 7);
    List<Prompt> prompts = new ArrayList<>();
    prompts.add(new Prompt("default-text", text, Optional.empty()));
    if (config.vision().isPresent()) {
      ImageInput image = preprocessor.process(generatedImage());
      int merge = config.vision().get().spatialMergeSize();
      long[] before = ordinaryIds(5, bound, 11);
      long[] after = ordinaryIds(7, bound, 13);
      int pads = padCount(image, merge);
      long[] ids = LongStream.concat(LongStream.concat(LongStream.of(before), LongStream.of(config.visionStartTokenId())),
          LongStream.concat(LongStream.generate(config::imageTokenId).limit(pads),
              LongStream.concat(LongStream.of(config.visionEndTokenId()), LongStream.of(after)))).toArray();
      prompts.add(new Prompt("default-image", ids, Optional.of(image)));
    }
    return prompts;
  }

  /** Reads a JSONL prompts file; {@code tokenizerDirectory} holds {@code tokenizer.json} for text prompts. */
  public static List<Prompt> read(Path file, Qwen35Config config, ImagePreprocessor preprocessor,
      Path tokenizerDirectory) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UsageException(file + ": cannot read: " + e.getMessage());
    }
    Path base = file.toAbsolutePath().getParent();
    int merge = config.vision().map(Qwen35Config.VisionConfig::spatialMergeSize).orElse(2);
    ChatPrompt chat = null;
    List<Prompt> prompts = new ArrayList<>();
    for (int index = 0; index < lines.size(); index++) {
      String line = lines.get(index).strip();
      if (line.isEmpty()) {
        continue;
      }
      String where = file + " line " + (index + 1);
      JsonNode node;
      try {
        node = HfConfig.JSON.readTree(line);
      } catch (IOException e) {
        throw new UsageException(where + ": not JSON: " + e.getMessage());
      }
      List<ImageInput> images = new ArrayList<>();
      for (JsonNode image : node.path("images")) {
        if (!image.isTextual()) {
          throw new UsageException(where + ": images must be file names, got " + image);
        }
        Path imageFile = base.resolve(image.asText());
        if (!Files.isRegularFile(imageFile)) {
          throw new UsageException(where + ": image " + imageFile + " does not exist");
        }
        images.add(preprocessor.process(RgbImage.read(imageFile)));
      }
      if (!images.isEmpty() && config.vision().isEmpty()) {
        throw new UsageException(where + ": the model has no vision tower, the prompt has images");
      }
      int[] pads = images.stream().mapToInt(image -> padCount(image, merge)).toArray();
      long[] ids;
      if (node.has("input_ids")) {
        ids = longs(where, node.get("input_ids"));
        long present = Arrays.stream(ids).filter(id -> id == config.imageTokenId()).count();
        if (present != Arrays.stream(pads).sum()) {
          throw new UsageException(where + ": input_ids hold " + present + " image tokens, the images need "
              + Arrays.stream(pads).sum());
        }
      } else if (node.has("text") && node.get("text").isTextual()) {
        if (chat == null) {
          chat = ChatPrompt.forModel(BpeTokenizer.load(tokenizerDirectory), config);
        }
        ids = Arrays.stream(chat.user(node.get("text").asText(), pads)).asLongStream().toArray();
      } else {
        throw new UsageException(where + ": expected {\"input_ids\": [...]} or {\"text\": \"...\", \"images\": [...]}");
      }
      prompts.add(new Prompt("line-" + (index + 1), ids, images.isEmpty() ? Optional.empty()
          : Optional.of(concatenate(images))));
    }
    if (prompts.isEmpty()) {
      throw new UsageException(file + ": no prompts");
    }
    return prompts;
  }

  private static long[] longs(String where, JsonNode array) {
    if (!array.isArray() || array.isEmpty()) {
      throw new UsageException(where + ": input_ids must be a non-empty list of token ids");
    }
    long[] out = new long[array.size()];
    for (int index = 0; index < out.length; index++) {
      if (!array.get(index).canConvertToLong() || array.get(index).asLong() < 0) {
        throw new UsageException(where + ": input_ids[" + index + "] is not a token id: " + array.get(index));
      }
      out[index] = array.get(index).asLong();
    }
    return out;
  }

  private static int padCount(ImageInput image, int merge) {
    int pads = 0;
    for (GridThw grid : image.grids()) {
      pads += ChatPrompt.imagePadCount(grid.frames(), grid.height(), grid.width(), merge);
    }
    return pads;
  }

  private static ImageInput concatenate(List<ImageInput> images) {
    if (images.size() == 1) {
      return images.getFirst();
    }
    int patchDim = images.getFirst().patchDim();
    List<GridThw> grids = new ArrayList<>();
    float[] pixels = new float[images.stream().mapToInt(image -> image.pixelValues().length).sum()];
    int at = 0;
    for (ImageInput image : images) {
      System.arraycopy(image.pixelValues(), 0, pixels, at, image.pixelValues().length);
      at += image.pixelValues().length;
      grids.addAll(image.grids());
    }
    return new ImageInput(pixels, patchDim, grids);
  }

  /** {@code count} ids spread over {@code [0, bound)} by a fixed stride. */
  private static long[] ordinaryIds(int count, long bound, long seed) {
    long[] ids = new long[count];
    for (int index = 0; index < count; index++) {
      ids[index] = Math.floorMod(seed + 7919L * index * (index + 3), bound);
    }
    return ids;
  }

  private static RgbImage generatedImage() {
    byte[] pixels = new byte[DEFAULT_IMAGE_SIDE * DEFAULT_IMAGE_SIDE * 3];
    for (int y = 0; y < DEFAULT_IMAGE_SIDE; y++) {
      for (int x = 0; x < DEFAULT_IMAGE_SIDE; x++) {
        int offset = (y * DEFAULT_IMAGE_SIDE + x) * 3;
        boolean checker = ((x / 32) + (y / 32)) % 2 == 0;
        pixels[offset] = (byte) x;
        pixels[offset + 1] = (byte) y;
        pixels[offset + 2] = (byte) (checker ? 220 : 30);
      }
    }
    return new RgbImage(DEFAULT_IMAGE_SIDE, DEFAULT_IMAGE_SIDE, pixels);
  }
}
