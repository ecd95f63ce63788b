package dev.megabridge.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.error.ConfigException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Typed, defaulting access to one JSON object of a config file. A missing key (or, where stated, a null
 * one) yields the default; a present key of the wrong type is a {@link ConfigException} naming the file and
 * the full key path, e.g. {@code config.json: text_config.hidden_size: expected an integer, got "x"}.
 */
public record ConfigSection(Path file, String path, ObjectNode node) {

  private String key(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  private ConfigException wrongType(String name, String expected, JsonNode value) {
    return new ConfigException(file + ": " + key(name) + ": expected " + expected + ", got " + value);
  }

  /**
   * The value of {@code name} read by {@code read} when {@code accepts} holds; empty when the key is missing
   * or JSON null (both mean "use the default"); a {@link ConfigException} naming the key otherwise.
   */
  private <T> Optional<T> typed(String name, Predicate<JsonNode> accepts, String expected, Function<JsonNode, T> read) {
    JsonNode value = node.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!accepts.test(value)) {
      throw wrongType(name, expected, value);
    }
    return Optional.of(read.apply(value));
  }

  /** A JSON integer that fits a long, or a float with an integral value of at most 1e15 (e.g. 4096.0). */
  private static boolean isWholeNumber(JsonNode value) {
    if (value.isIntegralNumber()) {
      return value.canConvertToLong();
    }
    double number = value.asDouble();
    return value.isNumber() && number == Math.rint(number) && Math.abs(number) < 1e15;
  }

  private static boolean isArrayOf(JsonNode value, Predicate<JsonNode> element) {
    if (!value.isArray()) {
      return false;
    }
    for (JsonNode item : value) {
      if (!element.test(item)) {
        return false;
      }
    }
    return true;
  }

  private static <T> List<T> listOf(JsonNode array, Function<JsonNode, T> element) {
    List<T> out = new ArrayList<>();
    array.forEach(item -> out.add(element.apply(item)));
    return List.copyOf(out);
  }

  public boolean has(String name) {
    return node.has(name);
  }

  /** Present and not JSON null. */
  public boolean hasValue(String name) {
    return node.has(name) && !node.get(name).isNull();
  }

  public Optional<ConfigSection> section(String name) {
    return typed(name, JsonNode::isObject, "an object",
        value -> new ConfigSection(file, key(name), (ObjectNode) value));
  }

  public Optional<Long> optLong(String name) {
    return typed(name, ConfigSection::isWholeNumber, "an integer",
        value -> value.isIntegralNumber() ? value.longValue() : (long) value.asDouble());
  }

  public long longOr(String name, long fallback) {
    return optLong(name).orElse(fallback);
  }

  public Optional<Integer> optInt(String name) {
    return optLong(name).map(value -> {
      if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
        throw wrongType(name, "a 32-bit integer", node.get(name));
      }
      return value.intValue();
    });
  }

  public int intOr(String name, int fallback) {
    return optInt(name).orElse(fallback);
  }

  public int requireInt(String name) {
    return optInt(name).orElseThrow(() -> missing(name));
  }

  public Optional<Double> optDouble(String name) {
    return typed(name, JsonNode::isNumber, "a number", JsonNode::doubleValue);
  }

  public double doubleOr(String name, double fallback) {
    return optDouble(name).orElse(fallback);
  }

  public Optional<Boolean> optBoolean(String name) {
    return typed(name, JsonNode::isBoolean, "true or false", JsonNode::booleanValue);
  }

  public boolean booleanOr(String name, boolean fallback) {
    return optBoolean(name).orElse(fallback);
  }

  public Optional<String> optString(String name) {
    return typed(name, JsonNode::isTextual, "a string", JsonNode::textValue);
  }

  public String stringOr(String name, String fallback) {
    return optString(name).orElse(fallback);
  }

  public Optional<List<String>> optStringList(String name) {
    return typed(name, value -> isArrayOf(value, JsonNode::isTextual), "a list of strings",
        value -> listOf(value, JsonNode::textValue));
  }

  /** A list of JSON integers that each fit a long. */
  public Optional<List<Long>> optLongList(String name) {
    return typed(name, value -> isArrayOf(value, item -> item.isIntegralNumber() && item.canConvertToLong()),
        "a list of integers", value -> listOf(value, JsonNode::longValue));
  }

  /** A list of integers that each fit 32 bits. */
  public Optional<List<Integer>> optIntList(String name) {
    return typed(name, value -> isArrayOf(value, item -> item.isIntegralNumber() && item.canConvertToInt()),
        "a list of 32-bit integers", value -> listOf(value, JsonNode::intValue));
  }

  public ConfigException missing(String name) {
    return new ConfigException(file + ": missing key '" + key(name) + "'");
  }

  /** A missing key whose default does not fit, e.g. {@code config.json: missing key 'text_config.hidden_size' (…)}. */
  public ConfigException missing(String name, String why) {
    return new ConfigException(file + ": missing key '" + key(name) + "' (" + why + ")");
  }

  public ConfigException invalid(String name, String why) {
    return new ConfigException(file + ": " + key(name) + ": " + why);
  }
}
