package dev.megabridge.runtime.qwen35;

import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.Functions;
import dev.megabridge.runtime.ops.KernelOps;
import dev.megabridge.runtime.ops.Linear;
import dev.megabridge.runtime.qwen35.LayerState.AttentionCache;
import java.util.List;

/**
 * Full attention with output gate (docs/model.md §3.3): per-head [query | gate] rows of q_proj, zero-centred q/k norms,
 * partial M-RoPE, causal GQA softmax attention (query head h reads KV head h / (heads/kvHeads)),
 * {@code o ⊙ sigmoid(gate)} before o_proj.
 */
final class GatedAttention implements Mixer {

  /** q_proj, k_proj and v_proj fused: per token {@code [query|gate per head (2·heads·hd), keys, values]}. */
  private final Linear qkvProjection;
  private final Linear outputProjection;
  private final float[] queryNorm;
  private final float[] keyNorm;
  private final int heads;
  private final int kvHeads;
  private final int headDim;
  private final float eps;
  private final float scaling;
  private final TextRotary rotary;

  GatedAttention(ModelWeights weights, String prefix, TextConfig text, TextRotary rotary) {
    Linear queryGateProjection = weights.linear(prefix + "q_proj.weight");
    Linear keyProjection = weights.linear(prefix + "k_proj.weight");
    Linear valueProjection = weights.linear(prefix + "v_proj.weight");
    this.outputProjection = weights.linear(prefix + "o_proj.weight");
    this.queryNorm = weights.floats(prefix + "q_norm.weight");
    this.keyNorm = weights.floats(prefix + "k_norm.weight");
    this.heads = text.numAttentionHeads();
    this.kvHeads = text.numKeyValueHeads();
    this.headDim = text.headDim();
    this.eps = (float) text.rmsNormEps();
    this.scaling = (float) Math.pow(headDim, -0.5);
    this.rotary = rotary;
    Shapes.check(queryGateProjection, 2 * heads * headDim, text.hiddenSize(), prefix + "q_proj");
    Shapes.check(keyProjection, kvHeads * headDim, text.hiddenSize(), prefix + "k_proj");
    Shapes.check(valueProjection, kvHeads * headDim, text.hiddenSize(), prefix + "v_proj");
    Shapes.check(outputProjection, text.hiddenSize(), heads * headDim, prefix + "o_proj");
    this.qkvProjection = Linear.concat(List.of(queryGateProjection, keyProjection, valueProjection));
  }

  @Override
  public LayerState newState() {
    return new AttentionCache(kvHeads * headDim);
  }

  @Override
  public long weightBytes() {
    return qkvProjection.weightBytes() + outputProjection.weightBytes();
  }

  @Override
  public void forward(Compute compute, float[] input, int tokens, PositionIds positions, LayerState state,
      float[] out) {
    AttentionCache cache = (AttentionCache) state;
    int queryWidth = heads * headDim;
    int kvWidth = kvHeads * headDim;
    int projectedWidth = 2 * queryWidth + 2 * kvWidth;
    float[] projected = new float[tokens * projectedWidth];
    qkvProjection.apply(compute, input, tokens, projected);

    float[] queries = new float[tokens * queryWidth];
    float[] gates = new float[tokens * queryWidth];
    float[] cos = new float[rotary.half()];
    float[] sin = new float[rotary.half()];
    int start = cache.length;
    cache.ensureCapacity(start + tokens);
    for (int token = 0; token < tokens; token++) {
      rotary.angles(positions, token, cos, sin);
      for (int head = 0; head < heads; head++) {
        int source = token * projectedWidth + head * 2 * headDim;
        int target = (token * heads + head) * headDim;
        Functions.rmsNormRow(projected, source, headDim, queryNorm, true, eps, queries, target);
        System.arraycopy(projected, source + headDim, gates, target, headDim);
        rotary.rotate(queries, target, cos, sin);
      }
      for (int head = 0; head < kvHeads; head++) {
        int offset = token * projectedWidth + 2 * queryWidth + head * headDim;
        int cached = (start + token) * kvWidth + head * headDim;
        Functions.rmsNormRow(projected, offset, headDim, keyNorm, true, eps, cache.keys, cached);
        rotary.rotate(cache.keys, cached, cos, sin);
      }
      System.arraycopy(projected, token * projectedWidth + 2 * queryWidth + kvWidth, cache.values,
          (start + token) * kvWidth, kvWidth);
    }
    cache.length = start + tokens;

    float[] attended = new float[tokens * queryWidth];
    int group = heads / kvHeads;
    KernelOps ops = compute.ops();
    float[] cachedKeys = cache.keys;
    float[] cachedValues = cache.values;
    compute.parallel().forRange(tokens * heads, 1, (from, to) -> {
      float[] scores = new float[start + tokens];
      for (int index = from; index < to; index++) {
        int token = index / heads;
        int head = index % heads;
        int kvOffset = (head / group) * headDim;
        int queryOffset = (token * heads + head) * headDim;
        int visible = start + token + 1;
        for (int key = 0; key < visible; key++) {
          scores[key] = ops.dot(queries, queryOffset, cachedKeys, key * kvWidth + kvOffset, headDim) * scaling;
        }
        Functions.softmax(scores, 0, visible);
        for (int key = 0; key < visible; key++) {
          ops.axpy(scores[key], cachedValues, key * kvWidth + kvOffset, attended, queryOffset, headDim);
        }
        for (int i = 0; i < headDim; i++) {
          attended[queryOffset + i] *= Functions.sigmoid(gates[queryOffset + i]);
        }
      }
    });
    outputProjection.apply(compute, attended, tokens, out);
  }
}
