package dev.megabridge.core.quant;

import dev.megabridge.core.error.UsageException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A requested FP8 block size, {@code ROWSxCOLUMNS} on the command line (default 128x128). */
public record Fp8Blocks(int rows, int columns) {
  public static final Fp8Blocks DEFAULT = new Fp8Blocks(128, 128);
  private static final Pattern SIZE = Pattern.compile("(\\d{1,5})x(\\d{1,5})");

  public Fp8Blocks {
    if (rows < 1 || columns < 1) {
      throw new UsageException("FP8 block size " + rows + "x" + columns + " must be positive");
    }
  }

  public static Fp8Blocks parse(String text) {
    Matcher matcher = SIZE.matcher(text.strip());
    if (!matcher.matches()) {
      throw new UsageException("--block-size: expected ROWSxCOLUMNS such as 128x128, got '" + text + "'");
    }
    return new Fp8Blocks(Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2)));
  }

  @Override
  public String toString() {
    return rows + "x" + columns;
  }
}
