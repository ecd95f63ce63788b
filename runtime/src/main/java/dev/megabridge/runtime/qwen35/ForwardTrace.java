package dev.megabridge.runtime.qwen35;

import java.util.Arrays;

/**
 * Receives intermediate activations during a forward pass, under the names of the reference fixtures
 * ({@code L3.mixer}, {@code final_norm}, {@code V.merger}, {@code mtp.fc_out}, …). For debugging and tests.
 */
@FunctionalInterface
public interface ForwardTrace {

  ForwardTrace NONE = (key, values, rows, columns) -> {};

  /** {@code values} is a {@code [rows, columns]} row-major snapshot owned by the receiver. */
  void record(String key, float[] values, int rows, int columns);

  /** Records a copy of {@code values} (unless this is {@link #NONE}). */
  default void snapshot(String key, float[] values, int rows, int columns) {
    if (this != NONE) {
      record(key, Arrays.copyOf(values, rows * columns), rows, columns);
    }
  }
}
