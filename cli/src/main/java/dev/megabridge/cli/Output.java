package dev.megabridge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.report.ReportJson;
import dev.megabridge.core.error.UsageException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Shared printing and argument helpers. */
final class Output {
  /** The mapper of every {@code --json} report (and of the JSON files the CLI reads in tests). */
  static final ObjectMapper JSON = ReportJson.MAPPER;
  private static final Pattern SIZE = Pattern.compile("(?i)^\\s*(\\d+(?:\\.\\d+)?)\\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\\s*$");

  private Output() {}

  static void json(Object value) {
    System.out.println(ReportJson.write(value));
  }

  /**
   * Prints what a command did, the one way every command does: with {@code --json} its report as one JSON object,
   * otherwise the report's {@link Report#describe() lines}.
   */
  static void print(CommonOptions common, Report report) {
    if (common.json) {
      json(report);
    } else {
      System.out.println(report.describe());
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
}
