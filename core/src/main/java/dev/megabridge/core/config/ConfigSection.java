package dev.megabridge.core.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.error.ConfigException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

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

  public boolean has(String name) {
    return node.has(name);
  }

  /** Present and not JSON null. */
  public boolean hasValue(String name) {
    return node.has(name) && !node.get(name).isNull();
  }

  public Optional<ConfigSection> section(String name) {
    JsonNode value = node.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isObject()) {
      throw wrongType(name, "an object", value);
    }
    return Optional.of(new ConfigSection(file, key(name), (ObjectNode) value));
  }

  public Optional<Long> optLong(String name) {
    JsonNode value = node.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isIntegralNumber() || !value.canConvertToLong()) {
      if (value.isNumber() && value.asDouble() == Math.rint(value.asDouble()) && Math.abs(value.asDouble()) < 1e15) {
        return Optional.of((long) value.asDouble());
      }
      throw wrongType(name, "an integer", value);
    }
    return Optional.of(value.longValue());
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
    JsonNode value = node.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isNumber()) {
      throw wrongType(name, "a number", value);
    }
    return Optional.of(value.doubleValue());
  }

  public double doubleOr(String name, double fallback) {
    return optDouble(name).orElse(fallback);
  }

  public Optional<Boolean> optBoolean(String name) {
    JsonNode value = node.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isBoolean()) {
      throw wrongType(name, "true or false", value);
    }
    return Optional.of(value.booleanValue());
  }

  public boolean booleanOr(String name, boolean fallback) {
    return optBoolean(name).orElse(fallback);
  }

  public Optional<String> optString(String name) {
    JsonNode value = node.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isTextual()) {
      throw wrongType(name, "a string", value);
    }
    return Optional.of(value.textValue());
  }

  public String stringOr(String name, String fallback) {
    return optString(name).orElse(fallback);
  }

  public Optional<List<String>> optStringList(String name) {
    JsonNode value = node.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isArray()) {
      throw wrongType(name, "a list of strings", value);
    }
    List<String> out = new ArrayList<>();
    for (JsonNode element : value) {
      if (!element.isTextual()) {
        throw wrongType(name, "a list of strings", value);
      }
      out.add(element.textValue());
    }
    return Optional.of(List.copyOf(out));
  }

  public Optional<List<Long>> optLongList(String name) {
    JsonNode value = node.get(name);
    if (value == null || value.isNull()) {
      return Optional.empty();
    }
    if (!value.isArray()) {
      throw wrongType(name, "a list of integers", value);
    }
    List<Long> out = new ArrayList<>();
    for (JsonNode element : value) {
      if (!element.isIntegralNumber() || !element.canConvertToLong()) {
        throw wrongType(name, "a list of integers", value);
      }
      out.add(element.longValue());
    }
    return Optional.of(List.copyOf(out));
  }

  /** A list of integers that each fit 32 bits. */
  public Optional<List<Integer>> optIntList(String name) {
    return optLongList(name).map(list -> {
      for (long element : list) {
        if (element < Integer.MIN_VALUE || element > Integer.MAX_VALUE) {
          throw wrongType(name, "a list of 32-bit integers", node.get(name));
        }
      }
      return list.stream().map(Long::intValue).toList();
    });
  }

  public ConfigException missing(String name) {
    return new ConfigException(file + ": " + key(name) + ": required key is missing");
  }

  public ConfigException invalid(String name, String why) {
    return new ConfigException(file + ": " + key(name) + ": " + why);
  }
}
