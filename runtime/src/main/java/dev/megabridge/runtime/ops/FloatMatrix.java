package dev.megabridge.runtime.ops;

import java.util.Arrays;

/** A dense row-major fp32 matrix {@code [rows, columns]} on the heap. */
public record FloatMatrix(float[] data, int rows, int columns) {

  public FloatMatrix {
    if ((long) rows * columns != data.length) {
      throw new IllegalArgumentException(data.length + " values for a [" + rows + ", " + columns + "] matrix");
    }
  }

  public static FloatMatrix zeros(int rows, int columns) {
    return new FloatMatrix(new float[Math.multiplyExact(rows, columns)], rows, columns);
  }

  public float get(int row, int column) {
    return data[row * columns + column];
  }

  /** A copy of row {@code row}. */
  public float[] row(int row) {
    return Arrays.copyOfRange(data, row * columns, (row + 1) * columns);
  }
}
