package dev.megabridge.runtime.qwen35;

import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.Functions;

/**
 * One pre-norm decoder layer (docs/model.md §3.1): {@code h += Mixer(RMSNorm₁₊(h)); h += FFN(RMSNorm₁₊(h))}.
 */
record DecoderLayer(float[] inputNorm, float[] postAttentionNorm, Mixer mixer, FeedForward feedForward, float eps) {

  /** Loads the layer under {@code prefix} (ending in '.'); {@code fullAttention} selects the mixer. */
  static DecoderLayer load(ModelWeights weights, String prefix, TextConfig text, boolean fullAttention, boolean moe,
      TextRotary rotary) {
    float[] inputNorm = weights.floats(prefix + "input_layernorm.weight");
    float[] postNorm = weights.floats(prefix + "post_attention_layernorm.weight");
    Shapes.check(inputNorm, text.hiddenSize(), prefix + "input_layernorm.weight");
    Shapes.check(postNorm, text.hiddenSize(), prefix + "post_attention_layernorm.weight");
    Mixer mixer = fullAttention
        ? new GatedAttention(weights, prefix + "self_attn.", text, rotary)
        : new GatedDeltaNet(weights, prefix + "linear_attn.", text);
    FeedForward feedForward = moe
        ? MoeBlock.load(weights, prefix + "mlp.", text.hiddenSize(), text.numExperts(), text.numExpertsPerTok(),
            text.moeIntermediateSize(), text.sharedExpertIntermediateSize())
        : SwiGlu.load(weights, prefix + "mlp.", text.hiddenSize(), text.intermediateSize());
    return new DecoderLayer(inputNorm, postNorm, mixer, feedForward, (float) text.rmsNormEps());
  }

  /** Updates the residual stream {@code hidden [tokens, H]} in place; trace keys are {@code key.<stage>}. */
  void forward(Compute compute, float[] hidden, int tokens, PositionIds positions, LayerState state,
      ForwardTrace trace, String key) {
    int width = inputNorm.length;
    trace.snapshot(key + ".input", hidden, tokens, width);
    float[] normed = new float[tokens * width];
    Functions.rmsNormZeroCentred(hidden, tokens, width, inputNorm, eps, normed);
    trace.snapshot(key + ".input_layernorm", normed, tokens, width);
    float[] mixed = new float[tokens * width];
    mixer.forward(compute, normed, tokens, positions, state, mixed);
    trace.snapshot(key + ".mixer", mixed, tokens, width);
    Functions.addInPlace(hidden, mixed);
    Functions.rmsNormZeroCentred(hidden, tokens, width, postAttentionNorm, eps, normed);
    trace.snapshot(key + ".post_attention_layernorm", normed, tokens, width);
    feedForward.forward(compute, normed, tokens, mixed, trace, key);
    trace.snapshot(key + ".mlp", mixed, tokens, width);
    Functions.addInPlace(hidden, mixed);
    trace.snapshot(key + ".output", hidden, tokens, width);
  }

  long weightBytesPerToken() {
    return mixer.weightBytes() + feedForward.weightBytesPerToken();
  }
}
