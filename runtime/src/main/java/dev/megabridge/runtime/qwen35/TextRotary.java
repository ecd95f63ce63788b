package dev.megabridge.runtime.qwen35;

import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import java.util.List;

/**
 * Partial, interleaved M-RoPE of the text model (docs/model.md §3.4): the first {@code rotaryDim} dims of every head
 * are rotated with rotate_half pairing {@code (i, i + rotaryDim/2)}; frequency {@code j} takes its position from axis H
 * when {@code j % 3 == 1 && j < 3·section[1]}, W when {@code j % 3 == 2 && j < 3·section[2]}, else T.
 */
final class TextRotary {

  private final int rotaryDim;
  private final int half;
  private final float[] inverseFrequencies;
  private final int[] axisOfFrequency;

  TextRotary(TextConfig text) {
    rotaryDim = text.rotaryDim();
    half = rotaryDim / 2;
    inverseFrequencies = new float[half];
    axisOfFrequency = new int[half];
    List<Integer> section = text.mropeSection();
    for (int j = 0; j < half; j++) {
      // fp32 as in transformers: base ** (arange(0, R, 2) / R), then 1 / that.
      float exponent = (float) (2 * j) / rotaryDim;
      inverseFrequencies[j] = 1f / (float) Math.pow(text.ropeTheta(), exponent);
      if (j % 3 == 1 && j < 3 * section.get(1)) {
        axisOfFrequency[j] = 1;
      } else if (j % 3 == 2 && j < 3 * section.get(2)) {
        axisOfFrequency[j] = 2;
      } else {
        axisOfFrequency[j] = 0;
      }
    }
  }

  /** cos and sin of the {@code rotaryDim/2} angles of token {@code token} of {@code positions}. */
  void angles(PositionIds positions, int token, float[] cos, float[] sin) {
    int[][] ids = positions.ids();
    for (int j = 0; j < half; j++) {
      float angle = ids[axisOfFrequency[j]][token] * inverseFrequencies[j];
      cos[j] = (float) Math.cos(angle);
      sin[j] = (float) Math.sin(angle);
    }
  }

  /** Rotates {@code x[offset, offset + rotaryDim)} in place; the rest of the head passes through. */
  void rotate(float[] x, int offset, float[] cos, float[] sin) {
    for (int i = 0; i < half; i++) {
      float first = x[offset + i];
      float second = x[offset + i + half];
      x[offset + i] = first * cos[i] - second * sin[i];
      x[offset + i + half] = second * cos[i] + first * sin[i];
    }
  }

  int half() {
    return half;
  }
}
