package dev.megabridge.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.error.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Shared printing and argument helpers. */
final class Output {
  static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
  private static final Pattern SIZE = Pattern.compile("(?i)^\\s*(\\d+(?:\\.\\d+)?)\\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\\s*$");

  private Output() {}

  static void json(Object value) {
    try {
      System.out.println(JSON.writeValueAsString(value));
    } catch (JsonProcessingException e) {
      throw new InternalException("cannot write JSON: " + e.getMessage(), e);
    }
  }

  /** Parses sizes like {@code 5GB} (10^9), {@code 512MiB} (2^20), {@code 1000}. */
  static long parseSize(String text, String option) {
    Matcher matcher = SIZE.matcher(text);
    if (!matcher.matches()) {
      throw new UsageException(option + ": cannot parse size '" + text + "' (e.g. 5GB, 512MiB)");
    }
    double value = Double.parseDouble(matcher.group(1));
    String unit = matcher.group(2) == null ? "b" : matcher.group(2).toLowerCase(Locale.ROOT);
    double factor = switch (unit) {
      case "b" -> 1;
      case "kb" -> 1e3;
      case "mb" -> 1e6;
      case "gb" -> 1e9;
      case "tb" -> 1e12;
      case "kib" -> 1L << 10;
      case "mib" -> 1L << 20;
      case "gib" -> 1L << 30;
      case "tib" -> 1L << 40;
      default -> throw new UsageException(option + ": unknown unit '" + unit + "'");
    };
    long bytes = (long) (value * factor);
    if (bytes <= 0) {
      throw new UsageException(option + ": size must be positive, got '" + text + "'");
    }
    return bytes;
  }

  static Path existingDirectory(Path path, String what) {
    if (!Files.isDirectory(path)) {
      throw new UsageException(what + " " + path + " is not a directory");
    }
    return path;
  }

  static String bytes(long bytes) {
    if (bytes >= 1L << 30) {
      return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
    if (bytes >= 1L << 20) {
      return String.format(Locale.ROOT, "%.2f MiB", bytes / (double) (1L << 20));
    }
    if (bytes >= 1L << 10) {
      return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
    }
    return bytes + " B";
  }
}
