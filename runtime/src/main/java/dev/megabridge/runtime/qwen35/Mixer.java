package dev.megabridge.runtime.qwen35;

import dev.megabridge.runtime.ops.Compute;

/** The token mixer of a decoder layer. */
sealed interface Mixer permits GatedAttention, GatedDeltaNet {

  LayerState newState();

  /**
   * Mixes {@code tokens} new rows {@code input} {@code [tokens, hidden]} that follow the tokens already in
   * {@code state}, updating it; writes {@code [tokens, hidden]} to {@code out}.
   */
  void forward(Compute compute, float[] input, int tokens, PositionIds positions, LayerState state, float[] out);

  long weightBytes();
}
