package dev.megabridge.runtime.tokenizer;

import dev.megabridge.core.error.UsageException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.stream.Collectors;

/**
 * A byte-level BPE tokenizer read from a Hugging Face {@code tokenizer.json} of the shape Qwen ships (see
 * {@link TokenizerJson} for what is accepted). Encoding follows {@code tokenizers}: added tokens are cut out of the
 * raw input first (those marked {@code normalized} after normalizing), the text between them is normalized, split by
 * the pre-tokenizer's pattern, and each piece's UTF-8 bytes are merged by rank. Decoding concatenates the bytes of
 * the tokens (added tokens contribute their content) and reads them as UTF-8, invalid sequences becoming U+FFFD.
 * Instances are immutable apart from an internal word cache and may be shared between threads.
 */
public final class BpeTokenizer {
  /** The file name of a checkpoint's tokenizer. */
  public static final String FILE_NAME = "tokenizer.json";

  private final Path file;
  private final Normalization normalization;
  private final SplitPattern split;
  private final BpeModel model;
  private final Map<String, AddedToken> addedByContent;
  private final Map<Integer, AddedToken> addedById;
  private final AddedTokenMatcher rawMatcher;
  private final AddedTokenMatcher normalizedMatcher;
  private final int size;

  BpeTokenizer(Path file, Normalization normalization, SplitPattern split, BpeModel model, List<AddedToken> added) {
    this.file = file;
    this.normalization = normalization;
    this.split = split;
    this.model = model;
    this.addedByContent = Map.copyOf(added.stream().collect(Collectors.toMap(
        AddedToken::content, token -> token)));
    this.addedById = Map.copyOf(added.stream().collect(Collectors.toMap(
        AddedToken::id, token -> token)));
    this.rawMatcher = new AddedTokenMatcher(added.stream().filter(token -> !token.normalized()).toList(),
        normalization);
    this.normalizedMatcher = new AddedTokenMatcher(added.stream().filter(AddedToken::normalized).toList(),
        normalization);
    this.size = Math.max(model.size(), added.stream().mapToInt(token -> token.id() + 1).max().orElse(0));
  }

  /** Reads {@code dir/tokenizer.json}. */
  public static BpeTokenizer load(Path dir) {
    return TokenizerJson.read(dir.resolve(FILE_NAME));
  }

  /** Reads a {@code tokenizer.json} file. */
  public static BpeTokenizer read(Path file) {
    return TokenizerJson.read(file);
  }

  /** The file this tokenizer was read from. */
  public Path file() {
    return file;
  }

  /** One more than the largest id (vocabulary and added tokens). */
  public int size() {
    return size;
  }

  /** The ids of {@code text}, as {@code tokenizers}' {@code encode(text, add_special_tokens=False).ids}. */
  public int[] encode(String text) {
    IntBuffer ids = new IntBuffer();
    rawMatcher.split(text, new AddedTokenMatcher.Sink() {
      @Override
      public void text(String raw) {
        normalizedMatcher.split(normalization.apply(raw), new AddedTokenMatcher.Sink() {
          @Override
          public void text(String normalized) {
            split.split(normalized, piece -> ids.addAll(model.encodeWord(piece.getBytes(StandardCharsets.UTF_8))));
          }

          @Override
          public void token(AddedToken token) {
            ids.add(token.id());
          }
        });
      }

      @Override
      public void token(AddedToken token) {
        ids.add(token.id());
      }
    });
    return ids.toArray();
  }

  /** Whether {@code id} is in the vocabulary or an added token (a model may have padded rows beyond both). */
  public boolean knows(int id) {
    return addedById.containsKey(id) || model.token(id) != null;
  }

  /** The text of {@code ids}; every id must be in the vocabulary or an added token. */
  public String decode(int[] ids) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (int id : ids) {
      AddedToken added = addedById.get(id);
      if (added != null) {
        bytes.writeBytes(added.content().getBytes(StandardCharsets.UTF_8));
        continue;
      }
      String token = model.token(id);
      if (token == null) {
        throw new UsageException("token id " + id + " is neither in the vocabulary nor an added token of " + file
            + " (ids 0.." + (size - 1) + ")");
      }
      bytes.writeBytes(tokenBytes(token));
    }
    return new String(bytes.toByteArray(), StandardCharsets.UTF_8);
  }

  /**
   * The bytes a vocabulary token spells: one byte per alphabet character. A token with a character outside the
   * byte-level alphabet (a special token that also sits in the vocabulary) stands for its own UTF-8, as in
   * {@code tokenizers}' ByteLevel decoder.
   */
  private static byte[] tokenBytes(String token) {
    byte[] bytes = new byte[token.length()];
    for (int i = 0; i < token.length(); i++) {
      int b = ByteLevelAlphabet.byteOf(token.charAt(i));
      if (b < 0) {
        return token.getBytes(StandardCharsets.UTF_8);
      }
      bytes[i] = (byte) b;
    }
    return bytes;
  }

  /** The id of {@code token}: an added token's, else the vocabulary's; empty if neither has it. */
  public OptionalInt tokenId(String token) {
    AddedToken added = addedByContent.get(token);
    if (added != null) {
      return OptionalInt.of(added.id());
    }
    Integer id = model.id(token);
    return id == null ? OptionalInt.empty() : OptionalInt.of(id);
  }

  /** The added token with this content, if there is one. */
  public Optional<AddedToken> addedToken(String content) {
    return Optional.ofNullable(addedByContent.get(content));
  }

  /** A growable int array. */
  private static final class IntBuffer {
    private int[] items = new int[16];
    private int size;

    void add(int value) {
      if (size == items.length) {
        items = Arrays.copyOf(items, size * 2);
      }
      items[size++] = value;
    }

    void addAll(int[] values) {
      if (size + values.length > items.length) {
        items = Arrays.copyOf(items, Math.max(size * 2, size + values.length));
      }
      System.arraycopy(values, 0, items, size, values.length);
      size += values.length;
    }

    int[] toArray() {
      return Arrays.copyOf(items, size);
    }
  }
}
