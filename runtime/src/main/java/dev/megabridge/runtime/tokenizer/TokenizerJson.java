package dev.megabridge.runtime.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.UnsupportedModelException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a Hugging Face {@code tokenizer.json} into a {@link BpeTokenizer}, accepting exactly the pieces Qwen's
 * tokenizers use and failing, with the file and the JSON path named, on anything else:
 * <ul>
 *   <li>{@code model}: {@code BPE} with a {@code vocab} object and {@code merges} (either {@code "a b"} strings or
 *       {@code ["a", "b"]} pairs, in rank order); no dropout, no unk token, no subword prefix or suffix, no byte
 *       fallback, {@code ignore_merges} false; every byte's alphabet character in the vocabulary;</li>
 *   <li>{@code normalizer}: null or {@code NFC};</li>
 *   <li>{@code pre_tokenizer}: a {@code Sequence} of a {@code Split} (a {@code Regex} pattern, behaviour
 *       {@code Isolated}, not inverted) and a {@code ByteLevel} with {@code add_prefix_space} and
 *       {@code use_regex} false;</li>
 *   <li>{@code post_processor}: null or {@code ByteLevel} (which only adjusts offsets); {@code decoder}:
 *       {@code ByteLevel};</li>
 *   <li>{@code added_tokens}: without {@code single_word}, {@code lstrip} or {@code rstrip};</li>
 *   <li>{@code truncation} and {@code padding}: null.</li>
 * </ul>
 */
final class TokenizerJson {
  private static final Set<String> TOP_LEVEL = Set.of("version", "truncation", "padding", "added_tokens",
      "normalizer", "pre_tokenizer", "post_processor", "decoder", "model");
  private static final Set<String> BYTE_LEVEL = Set.of("type", "add_prefix_space", "trim_offsets", "use_regex");

  private final Path file;

  private TokenizerJson(Path file) {
    this.file = file;
  }

  static BpeTokenizer read(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new CheckpointFormatException(file + ": no such file (the checkpoint has no tokenizer)");
    } catch (IOException e) {
      throw new CheckpointFormatException(file + ": cannot read: " + e.getMessage(), e);
    }
    return parse(file, text);
  }

  static BpeTokenizer parse(Path file, String text) {
    JsonNode root;
    try {
      root = HfConfig.JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new CheckpointFormatException(file + ": not valid JSON: " + e.getOriginalMessage());
    }
    return new TokenizerJson(file).tokenizer(root);
  }

  private BpeTokenizer tokenizer(JsonNode root) {
    if (root == null || !root.isObject()) {
      throw malformed("", "the top level is not a JSON object");
    }
    onlyKeys(root, "", TOP_LEVEL);
    requireNull(root, "truncation");
    requireNull(root, "padding");
    Normalization normalization = normalization(root.get("normalizer"));
    SplitPattern split = preTokenizer(root.get("pre_tokenizer"));
    JsonNode postProcessor = root.get("post_processor");
    if (postProcessor != null && !postProcessor.isNull()) {
      byteLevel(postProcessor, "post_processor", false);
    }
    JsonNode decoder = root.get("decoder");
    if (decoder == null || decoder.isNull()) {
      throw unsupported("decoder", "a missing decoder (only ByteLevel is supported)");
    }
    byteLevel(decoder, "decoder", false);
    BpeModel model = model(required(root, "model", ""));
    List<AddedToken> added = addedTokens(root.get("added_tokens"));
    return new BpeTokenizer(file, normalization, split, model, added);
  }

  private Normalization normalization(JsonNode node) {
    if (node == null || node.isNull()) {
      return Normalization.NONE;
    }
    String type = type(node, "normalizer");
    if (!type.equals("NFC")) {
      throw unsupported("normalizer.type", "'" + type + "' (only NFC is supported)");
    }
    onlyKeys(node, "normalizer", Set.of("type"));
    return Normalization.NFC;
  }

  private SplitPattern preTokenizer(JsonNode node) {
    if (node == null || node.isNull()) {
      throw unsupported("pre_tokenizer", "a missing pre-tokenizer (a Sequence of Split and ByteLevel is required)");
    }
    String type = type(node, "pre_tokenizer");
    if (!type.equals("Sequence")) {
      throw unsupported("pre_tokenizer.type", "'" + type + "' (only a Sequence of Split and ByteLevel is supported)");
    }
    onlyKeys(node, "pre_tokenizer", Set.of("type", "pretokenizers"));
    JsonNode steps = required(node, "pretokenizers", "pre_tokenizer");
    if (!steps.isArray() || steps.size() != 2) {
      throw unsupported("pre_tokenizer.pretokenizers", steps.size() + " steps (exactly Split then ByteLevel is"
          + " supported)");
    }
    JsonNode splitNode = steps.get(0);
    String splitPath = "pre_tokenizer.pretokenizers[0]";
    String splitType = type(splitNode, splitPath);
    if (!splitType.equals("Split")) {
      throw unsupported(splitPath + ".type", "'" + splitType + "' (the first step must be Split)");
    }
    onlyKeys(splitNode, splitPath, Set.of("type", "pattern", "behavior", "invert"));
    String behavior = text(required(splitNode, "behavior", splitPath), splitPath + ".behavior");
    if (!behavior.equals("Isolated")) {
      throw unsupported(splitPath + ".behavior", "'" + behavior + "' (only Isolated is supported)");
    }
    if (bool(required(splitNode, "invert", splitPath), splitPath + ".invert")) {
      throw unsupported(splitPath + ".invert", "true (only false is supported)");
    }
    JsonNode pattern = required(splitNode, "pattern", splitPath);
    if (!pattern.isObject() || pattern.size() != 1 || !pattern.has("Regex")) {
      throw unsupported(splitPath + ".pattern", pattern + " (only {\"Regex\": ...} is supported)");
    }
    SplitPattern split = SplitPattern.compile(file, text(pattern.get("Regex"), splitPath + ".pattern.Regex"));
    JsonNode byteLevel = steps.get(1);
    String byteLevelPath = "pre_tokenizer.pretokenizers[1]";
    String byteLevelType = type(byteLevel, byteLevelPath);
    if (!byteLevelType.equals("ByteLevel")) {
      throw unsupported(byteLevelPath + ".type", "'" + byteLevelType + "' (the second step must be ByteLevel)");
    }
    byteLevel(byteLevel, byteLevelPath, true);
    return split;
  }

  /**
   * A {@code ByteLevel} step. In the pre-tokenizer, {@code add_prefix_space} and {@code use_regex} change the
   * pieces and must be false; {@code trim_offsets}, and every field of the post-processor and decoder, only
   * concern offsets or are ignored by {@code tokenizers} when decoding.
   */
  private void byteLevel(JsonNode node, String path, boolean preTokenizer) {
    String type = type(node, path);
    if (!type.equals("ByteLevel")) {
      throw unsupported(path + ".type", "'" + type + "' (only ByteLevel is supported)");
    }
    onlyKeys(node, path, BYTE_LEVEL);
    for (String key : List.of("add_prefix_space", "trim_offsets", "use_regex")) {
      JsonNode value = node.get(key);
      if (value != null) {
        boolean on = bool(value, path + "." + key);
        if (preTokenizer && on && !key.equals("trim_offsets")) {
          throw unsupported(path + "." + key, "true (only false is supported)");
        }
      }
    }
  }

  private BpeModel model(JsonNode node) {
    String type = type(node, "model");
    if (!type.equals("BPE")) {
      throw unsupported("model.type", "'" + type + "' (only BPE is supported)");
    }
    onlyKeys(node, "model", Set.of("type", "dropout", "unk_token", "continuing_subword_prefix",
        "end_of_word_suffix", "fuse_unk", "byte_fallback", "ignore_merges", "vocab", "merges"));
    requireNull(node, "dropout", "model");
    requireNull(node, "unk_token", "model");
    for (String key : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
      JsonNode value = node.get(key);
      if (value != null && !value.isNull() && !text(value, "model." + key).isEmpty()) {
        throw unsupported("model." + key, "'" + value.asText() + "' (only null or \"\" is supported)");
      }
    }
    // fuse_unk only matters with an unk token, which is rejected above.
    if (node.has("fuse_unk")) {
      bool(node.get("fuse_unk"), "model.fuse_unk");
    }
    for (String key : List.of("byte_fallback", "ignore_merges")) {
      if (node.has(key) && bool(node.get(key), "model." + key)) {
        throw unsupported("model." + key, "true (only false is supported)");
      }
    }
    Map<String, Integer> vocab = vocab(required(node, "vocab", "model"));
    // Ids are 0..N-1, each once: the array below is then exactly the inverse map (and cannot be made huge).
    String[] tokens = new String[vocab.size()];
    vocab.forEach((token, id) -> {
      if (id >= tokens.length) {
        throw malformed("model.vocab", "'" + token + "' has id " + id + " but the " + tokens.length
            + " ids must be 0.." + (tokens.length - 1));
      }
      if (tokens[id] != null) {
        throw malformed("model.vocab", "id " + id + " is given to both '" + tokens[id] + "' and '" + token + "'");
      }
      tokens[id] = token;
    });
    int[] byteIds = new int[256];
    for (int b = 0; b < 256; b++) {
      Integer id = vocab.get(String.valueOf(ByteLevelAlphabet.charOf(b)));
      if (id == null) {
        throw malformed("model.vocab", String.format("the byte 0x%02X (character '%c') is not in the vocabulary;"
            + " a byte-level vocabulary has all 256", b, ByteLevelAlphabet.charOf(b)));
      }
      byteIds[b] = id;
    }
    return new BpeModel(vocab, tokens, merges(required(node, "merges", "model"), vocab), byteIds);
  }

  private Map<String, Integer> vocab(JsonNode node) {
    if (!node.isObject()) {
      throw malformed("model.vocab", "not a JSON object");
    }
    Map<String, Integer> vocab = new HashMap<>(node.size() * 2);
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      JsonNode id = entry.getValue();
      if (!id.canConvertToInt() || !id.isIntegralNumber() || id.intValue() < 0) {
        throw malformed("model.vocab." + entry.getKey(), "id " + id + " is not a non-negative integer");
      }
      vocab.put(entry.getKey(), id.intValue());
    }
    return vocab;
  }

  private Map<Long, Long> merges(JsonNode node, Map<String, Integer> vocab) {
    if (!node.isArray()) {
      throw malformed("model.merges", "not a JSON array");
    }
    Map<Long, Long> merges = new HashMap<>(node.size() * 2);
    for (int rank = 0; rank < node.size(); rank++) {
      JsonNode merge = node.get(rank);
      String path = "model.merges[" + rank + "]";
      String left;
      String right;
      if (merge.isTextual()) {
        String[] parts = merge.textValue().split(" ", -1);
        if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
          throw malformed(path, "'" + merge.textValue() + "' is not two tokens separated by one space");
        }
        left = parts[0];
        right = parts[1];
      } else if (merge.isArray() && merge.size() == 2 && merge.get(0).isTextual() && merge.get(1).isTextual()) {
        left = merge.get(0).textValue();
        right = merge.get(1).textValue();
      } else {
        throw malformed(path, merge + " is neither \"a b\" nor [\"a\", \"b\"]");
      }
      Integer leftId = vocab.get(left);
      Integer rightId = vocab.get(right);
      Integer mergedId = vocab.get(left + right);
      if (leftId == null || rightId == null || mergedId == null) {
        String missing = leftId == null ? left : rightId == null ? right : left + right;
        throw malformed(path, "merge '" + left + "' + '" + right + "': '" + missing + "' is not in the vocabulary");
      }
      Long previous = merges.put(BpeModel.pair(leftId, rightId), ((long) rank << 32) | mergedId);
      if (previous != null) {
        throw malformed(path, "merge '" + left + "' + '" + right + "' also has rank " + (previous >>> 32));
      }
    }
    return merges;
  }

  private List<AddedToken> addedTokens(JsonNode node) {
    List<AddedToken> added = new ArrayList<>();
    if (node == null || node.isNull()) {
      return added;
    }
    if (!node.isArray()) {
      throw malformed("added_tokens", "not a JSON array");
    }
    Set<String> contents = new HashSet<>();
    Set<Integer> ids = new HashSet<>();
    for (int i = 0; i < node.size(); i++) {
      JsonNode entry = node.get(i);
      String path = "added_tokens[" + i + "]";
      if (!entry.isObject()) {
        throw malformed(path, "not a JSON object");
      }
      onlyKeys(entry, path, Set.of("id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"));
      JsonNode idNode = required(entry, "id", path);
      if (!idNode.isIntegralNumber() || !idNode.canConvertToInt() || idNode.intValue() < 0) {
        throw malformed(path + ".id", idNode + " is not a non-negative integer");
      }
      String content = text(required(entry, "content", path), path + ".content");
      if (content.isEmpty()) {
        throw malformed(path + ".content", "empty");
      }
      for (String key : List.of("single_word", "lstrip", "rstrip")) {
        if (entry.has(key) && bool(entry.get(key), path + "." + key)) {
          throw unsupported(path + "." + key, "true for '" + content + "' (only false is supported)");
        }
      }
      boolean special = bool(required(entry, "special", path), path + ".special");
      boolean normalized = bool(required(entry, "normalized", path), path + ".normalized");
      if (!contents.add(content)) {
        throw malformed(path + ".content", "'" + content + "' is added twice");
      }
      if (!ids.add(idNode.intValue())) {
        throw malformed(path + ".id", "id " + idNode.intValue() + " is given to two added tokens");
      }
      added.add(new AddedToken(idNode.intValue(), content, special, normalized));
    }
    return added;
  }

  private String type(JsonNode node, String path) {
    if (node == null || !node.isObject()) {
      throw malformed(path, "not a JSON object");
    }
    return text(required(node, "type", path), path + ".type");
  }

  private JsonNode required(JsonNode node, String key, String path) {
    JsonNode value = node.get(key);
    if (value == null || value.isNull()) {
      throw malformed(path.isEmpty() ? key : path + "." + key, "missing");
    }
    return value;
  }

  private String text(JsonNode node, String path) {
    if (!node.isTextual()) {
      throw malformed(path, node + " is not a string");
    }
    return node.textValue();
  }

  private boolean bool(JsonNode node, String path) {
    if (!node.isBoolean()) {
      throw malformed(path, node + " is not a boolean");
    }
    return node.booleanValue();
  }

  private void requireNull(JsonNode node, String key) {
    requireNull(node, key, "");
  }

  private void requireNull(JsonNode node, String key, String path) {
    JsonNode value = node.get(key);
    if (value != null && !value.isNull()) {
      String field = path.isEmpty() ? key : path + "." + key;
      throw unsupported(field, value + " (only null is supported)");
    }
  }

  private void onlyKeys(JsonNode node, String path, Set<String> allowed) {
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!allowed.contains(key)) {
        throw unsupported(path.isEmpty() ? key : path + "." + key, "a field megabridge's tokenizer does not know");
      }
    }
  }

  private CheckpointFormatException malformed(String path, String problem) {
    return new CheckpointFormatException(file + ": " + (path.isEmpty() ? "" : path + ": ") + problem);
  }

  private UnsupportedModelException unsupported(String path, String what) {
    return new UnsupportedModelException(file + ": " + path + ": unsupported: " + what);
  }
}
