package dev.megabridge.runtime.qwen35;

import dev.megabridge.runtime.ops.Compute;

/** The channel mixer of a decoder layer: dense SwiGLU or a mixture of experts. */
sealed interface FeedForward permits SwiGlu, MoeBlock {

  /** {@code out [tokens, hidden] = FFN(input [tokens, hidden])}; {@code layerKey} names trace entries. */
  void forward(Compute compute, float[] input, int tokens, float[] out, ForwardTrace trace, String layerKey);

  /** Weight bytes read per token (for MoE: the router, the shared expert and top-k routed experts). */
  long weightBytesPerToken();
}
