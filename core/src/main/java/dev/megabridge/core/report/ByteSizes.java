package dev.megabridge.core.report;

import java.util.Locale;

/** Byte counts for people: binary units with two decimals ({@code 1.50 GiB}), as every report prints them. */
public final class ByteSizes {
  private ByteSizes() {}

  /** The unit a count is printed in: the largest whose size the count reaches, and its decimals. */
  private enum Unit {
    B("B", 1, 0), KIB("KiB", 1L << 10, 1), MIB("MiB", 1L << 20, 2), GIB("GiB", 1L << 30, 2);

    final String symbol;
    final long size;
    final int decimals;

    Unit(String symbol, long size, int decimals) {
      this.symbol = symbol;
      this.size = size;
      this.decimals = decimals;
    }

    static Unit of(long bytes) {
      return bytes >= GIB.size ? GIB : bytes >= MIB.size ? MIB : bytes >= KIB.size ? KIB : B;
    }

    String number(long bytes) {
      return this == B ? Long.toString(bytes)
          : String.format(Locale.ROOT, "%." + decimals + "f", bytes / (double) size);
    }
  }

  public static String format(long bytes) {
    Unit unit = Unit.of(bytes);
    return unit.number(bytes) + " " + unit.symbol;
  }

  /**
   * {@code bytes} as a number in the unit {@link #format} picks for {@code scale}, without the unit: "3.01" of a
   * scale in MiB (a progress count beside its total).
   */
  public static String numberIn(long bytes, long scale) {
    return Unit.of(scale).number(bytes);
  }
}
