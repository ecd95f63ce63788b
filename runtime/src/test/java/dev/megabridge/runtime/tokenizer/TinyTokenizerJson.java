package dev.megabridge.runtime.tokenizer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A hand-made {@code tokenizer.json} shaped like Qwen's: the 256 byte-level characters with id = byte value, then
 * the merged tokens given, the merges in the order given (as {@code "a b"} strings), and added tokens.
 */
final class TinyTokenizerJson {
  static final String QWEN3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
      + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

  private final ObjectNode root = HfConfig.JSON.createObjectNode();
  private final Map<String, Integer> vocab = new LinkedHashMap<>();
  private final ArrayNode merges;
  private final ArrayNode added;

  TinyTokenizerJson() {
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    added = root.putArray("added_tokens");
    root.putObject("normalizer").put("type", "NFC");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "Sequence");
    ArrayNode steps = pre.putArray("pretokenizers");
    ObjectNode split = steps.addObject();
    split.put("type", "Split");
    split.putObject("pattern").put("Regex", QWEN3_PATTERN);
    split.put("behavior", "Isolated");
    split.put("invert", false);
    steps.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false)
        .put("use_regex", false);
    root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", false)
        .put("trim_offsets", false).put("use_regex", false);
    root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false)
        .put("use_regex", false);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.put("continuing_subword_prefix", "");
    model.put("end_of_word_suffix", "");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", false);
    model.putObject("vocab");
    merges = model.putArray("merges");
    for (int b = 0; b < 256; b++) {
      vocab.put(String.valueOf(ByteLevelAlphabet.charOf(b)), b);
    }
  }

  /** Adds merge {@code "left right"} at the next rank and its result to the vocabulary (next id) if new. */
  TinyTokenizerJson merge(String left, String right) {
    merges.add(left + " " + right);
    vocab.putIfAbsent(left + right, vocab.size());
    return this;
  }

  TinyTokenizerJson added(int id, String content, boolean special, boolean normalized) {
    added.addObject().put("id", id).put("content", content).put("single_word", false).put("lstrip", false)
        .put("rstrip", false).put("normalized", normalized).put("special", special);
    return this;
  }

  int id(String token) {
    return vocab.get(token);
  }

  /** The JSON, for tests that break one field. */
  ObjectNode root() {
    ObjectNode vocabNode = ((ObjectNode) root.get("model")).putObject("vocab");
    vocab.forEach(vocabNode::put);
    return root;
  }

  Path write(Path dir) throws IOException {
    return write(dir, root());
  }

  static Path write(Path dir, ObjectNode json) throws IOException {
    Files.createDirectories(dir);
    Path file = dir.resolve(BpeTokenizer.FILE_NAME);
    Files.writeString(file, HfConfig.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(json));
    return file;
  }
}
