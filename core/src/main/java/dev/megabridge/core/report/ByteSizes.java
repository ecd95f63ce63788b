package dev.megabridge.core.report;

import java.util.Locale;

/** Byte counts for people: binary units with two decimals ({@code 1.50 GiB}), as every report prints them. */
public final class ByteSizes {
  private ByteSizes() {}

  public static String format(long bytes) {
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
