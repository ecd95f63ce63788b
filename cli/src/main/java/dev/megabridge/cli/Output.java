package dev.megabridge.cli;

import dev.megabridge.core.report.Report;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.error.UsageException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Shared printing and argument helpers. */
final class Output {
  /**
   * The mapper of every {@code --json} summary: snake_case names for record components (map keys are written as
   * given, already snake_case), paths as plain absolute path strings instead of Jackson's default {@code file://}
   * URIs.
   */
  static final ObjectMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT)
      .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .addModule(new SimpleModule("megabridge-paths").addSerializer(Path.class, new PathSerializer()))
      .build();
  private static final Pattern SIZE = Pattern.compile("(?i)^\\s*(\\d+(?:\\.\\d+)?)\\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\\s*$");

  private Output() {}

  static void json(Object value) {
    try {
      System.out.println(JSON.writeValueAsString(value));
    } catch (JsonProcessingException e) {
      throw new InternalException("cannot write JSON: " + e.getMessage(), e);
    }
  }

  /**
   * Prints what a command did, the one way every conversion command does: its report's line with the elapsed time
   * and {@code note} (e.g. the FP8 block size; may be empty), or with {@code --json} one object with the keys
   * {@code command}, {@code format} (the form read or written, when the command has several; null: none),
   * {@code summary} (the report's components), {@code seconds}, then the {@code extra} key, value pairs.
   */
  static void report(CommonOptions common, String command, String format, Report summary, double seconds, String note,
      Object... extra) {
    if (common.json) {
      Map<String, Object> object = object("command", command);
      if (format != null) {
        object.put("format", format);
      }
      object.putAll(object("summary", summary, "seconds", seconds));
      object.putAll(object(extra));
      json(object);
    } else {
      System.out.printf(Locale.ROOT, "%s in %.2f s%s%n", summary.describe(), seconds, note);
    }
  }

  /** A JSON object with the given keys in the given order: {@code object("command", "import", "seconds", 1.5)}. */
  static Map<String, Object> object(Object... keysAndValues) {
    if (keysAndValues.length % 2 != 0) {
      throw new InternalException("object() needs key, value pairs, got " + keysAndValues.length + " arguments");
    }
    Map<String, Object> object = new LinkedHashMap<>();
    for (int at = 0; at < keysAndValues.length; at += 2) {
      object.put((String) keysAndValues[at], keysAndValues[at + 1]);
    }
    return object;
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

  /** A path as a JSON string: the absolute, normalized path (never a URI). */
  private static final class PathSerializer extends StdSerializer<Path> {
    PathSerializer() {
      super(Path.class);
    }

    @Override
    public void serialize(Path path, JsonGenerator generator, SerializerProvider provider) throws IOException {
      generator.writeString(path.toAbsolutePath().normalize().toString());
    }
  }

  /**
   * {@code path} when it is a folder; otherwise a usage error saying why: it does not exist, it is a dangling symbolic
   * link, a symbolic link loop, unreadable, or not a folder.
   */
  static Path existingDirectory(Path path, String what) {
    if (Files.isDirectory(path)) {
      return path;
    }
    if (Files.exists(path)) {
      throw new UsageException(what + " " + path + " is not a directory");
    }
    try {
      path.toRealPath();
    } catch (NoSuchFileException e) {
      throw new UsageException(what + " " + path + (Files.isSymbolicLink(path)
          ? " is a symbolic link to " + linkTarget(path) + ", which does not exist" : " does not exist"));
    } catch (AccessDeniedException e) {
      throw new UsageException(what + " " + path + " cannot be accessed: permission denied");
    } catch (FileSystemException e) {
      if (e.getReason() != null && e.getReason().contains("symbolic links")) {
        throw new UsageException(what + " " + path + " cannot be resolved: a symbolic link loop (" + e.getReason()
            + ")");
      }
      throw new UsageException(what + " " + path + " cannot be accessed: "
          + (e.getReason() != null ? e.getReason() : e.getClass().getSimpleName()));
    } catch (IOException e) {
      throw new UsageException(what + " " + path + " cannot be accessed: " + e.getMessage());
    }
    throw new UsageException(what + " " + path + " cannot be accessed");
  }

  private static String linkTarget(Path link) {
    try {
      return Files.readSymbolicLink(link).toString();
    } catch (IOException e) {
      return "(unreadable target)";
    }
  }

  /** The output given either positionally or by its {@code option} alias: exactly one of the two. */
  static Path oneOutput(Path positional, Path alias, String option) {
    if (positional != null && alias != null) {
      throw new UsageException("output given twice: " + positional + " and " + option + " " + alias
          + " (give one)");
    }
    if (positional == null && alias == null) {
      throw new UsageException("missing output (positional OUT, or " + option + " OUT)");
    }
    return positional != null ? positional : alias;
  }

  /** Rank indices the way {@code --ranks} takes them: sorted, runs of three or more as ranges, e.g. {@code 0-3,8}. */
  static String rankList(Collection<Integer> indices) {
    List<Integer> sorted = indices.stream().sorted().distinct().toList();
    StringJoiner out = new StringJoiner(",");
    for (int start = 0; start < sorted.size(); ) {
      int end = start;
      while (end + 1 < sorted.size() && sorted.get(end + 1) == sorted.get(end) + 1) {
        end++;
      }
      if (end - start >= 2) {
        out.add(sorted.get(start) + "-" + sorted.get(end));
      } else {
        for (int at = start; at <= end; at++) {
          out.add(sorted.get(at).toString());
        }
      }
      start = end + 1;
    }
    return out.toString();
  }

  /** {@code bytes} as a number in the unit {@link #bytes} picks for {@code scale}, without the unit: "3.01" of MiB. */
  static String bytesOf(long bytes, long scale) {
    if (scale >= 1L << 30) {
      return String.format(Locale.ROOT, "%.2f", bytes / (double) (1L << 30));
    }
    if (scale >= 1L << 20) {
      return String.format(Locale.ROOT, "%.2f", bytes / (double) (1L << 20));
    }
    if (scale >= 1L << 10) {
      return String.format(Locale.ROOT, "%.1f", bytes / 1024.0);
    }
    return Long.toString(bytes);
  }
}
