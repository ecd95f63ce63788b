package dev.megabridge.runtime.qwen35;

import java.util.Arrays;

/** Per-layer decoding state: a KV cache for attention, conv window + recurrent state for Gated DeltaNet. */
sealed interface LayerState permits LayerState.AttentionCache, LayerState.DeltaNetState {

  /** Keys (after k_norm and RoPE) and values of the tokens seen so far, {@code [length, kvHeads·headDim]}. */
  final class AttentionCache implements LayerState {
    final int width;
    float[] keys;
    float[] values;
    int length;

    AttentionCache(int width) {
      this.width = width;
      this.keys = new float[16 * width];
      this.values = new float[16 * width];
    }

    void ensureCapacity(int tokens) {
      if ((long) tokens * width > keys.length) {
        int capacity = Math.max(tokens, 2 * keys.length / width);
        keys = Arrays.copyOf(keys, capacity * width);
        values = Arrays.copyOf(values, capacity * width);
      }
    }
  }

  /**
   * The last {@code K − 1} pre-conv rows of the mixed projection (oldest first) and the fp32 recurrent state
   * {@code S_h} ({@code [keyDim_h, valueDim_h]}) of every value head; both zero at sequence start (docs/model.md §7.2).
   */
  final class DeltaNetState implements LayerState {
    final float[] convWindow;
    final float[] recurrent;

    DeltaNetState(int convRows, int convDim, int recurrentSize) {
      this.convWindow = new float[convRows * convDim];
      this.recurrent = new float[recurrentSize];
    }
  }
}
