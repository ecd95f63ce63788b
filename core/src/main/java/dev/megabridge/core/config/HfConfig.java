package dev.megabridge.core.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.error.ConfigException;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * A Hugging Face {@code config.json}: the raw JSON (kept verbatim for round trips) plus the few fields
 * every bridge needs for dispatch. Model-specific records with their defaults live in the bridge modules.
 */
public record HfConfig(Path file, ObjectNode raw, List<String> architectures) {

  public static final String FILE_NAME = "config.json";
  public static final ObjectMapper JSON = JsonMapper.builder()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  public HfConfig {
    architectures = List.copyOf(architectures);
  }

  /** Reads {@code dir/config.json}. */
  public static HfConfig load(Path dir) {
    Path file = dir.resolve(FILE_NAME);
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(dir + ": no " + FILE_NAME);
    } catch (CharacterCodingException e) {
      throw new ConfigException(file + ": not UTF-8 text (a JSON file is expected)", e);
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read: " + e.getMessage(), e);
    }
    return parse(file, text);
  }

  public static HfConfig parse(Path file, String text) {
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new ConfigException(file + ": not valid JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw new ConfigException(file + ": top level is not a JSON object");
    }
    ConfigSection top = new ConfigSection(file, "", (ObjectNode) root);
    List<String> architectures = top.optStringList("architectures").orElse(List.of());
    return new HfConfig(file, (ObjectNode) root, architectures);
  }

  public ConfigSection top() {
    return new ConfigSection(file, "", raw);
  }

  public String modelType() {
    return top().stringOr("model_type", "");
  }

  /** The config as pretty JSON, exactly the keys of the source. */
  public String toJson() {
    return raw.toPrettyString();
  }
}
