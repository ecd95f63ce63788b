package dev.megabridge.runtime.qwen35;

import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.Functions;
import dev.megabridge.runtime.ops.Linear;
import java.util.List;

/**
 * {@code down( SiLU(x·gateᵀ) ⊙ (x·upᵀ) )} (docs/model.md §3.6); also one routed or shared expert. Gate and up are one
 * fused layer whose outputs are {@code [gate (I); up (I)]} (the layout of HF's packed {@code gate_up_proj}).
 */
record SwiGlu(Linear gateUp, Linear down) implements FeedForward {

  static SwiGlu load(ModelWeights weights, String prefix, int hidden, int intermediate) {
    return of(weights.linear(prefix + "gate_proj.weight"), weights.linear(prefix + "up_proj.weight"),
        weights.linear(prefix + "down_proj.weight"), hidden, intermediate, prefix);
  }

  /** Fuses separate gate and up projections, checking every shape against the config. */
  static SwiGlu of(Linear gate, Linear up, Linear down, int hidden, int intermediate, String name) {
    Shapes.check(gate, intermediate, hidden, name + "gate_proj");
    Shapes.check(up, intermediate, hidden, name + "up_proj");
    SwiGlu mlp = new SwiGlu(Linear.concat(List.of(gate, up)), down);
    mlp.checkShapes(hidden, intermediate, name);
    return mlp;
  }

  void checkShapes(int hidden, int intermediate, String name) {
    Shapes.check(gateUp, 2 * intermediate, hidden, name + "gate_up_proj");
    Shapes.check(down, hidden, intermediate, name + "down_proj");
  }

  @Override
  public void forward(Compute compute, float[] input, int tokens, float[] out, ForwardTrace trace,
      String layerKey) {
    int intermediate = down.inFeatures();
    float[] gateUpValues = new float[tokens * 2 * intermediate];
    gateUp.apply(compute, input, tokens, gateUpValues);
    float[] gated = new float[tokens * intermediate];
    for (int token = 0; token < tokens; token++) {
      int source = token * 2 * intermediate;
      int target = token * intermediate;
      for (int i = 0; i < intermediate; i++) {
        gated[target + i] = Functions.silu(gateUpValues[source + i]) * gateUpValues[source + intermediate + i];
      }
    }
    down.apply(compute, gated, tokens, out);
  }

  @Override
  public long weightBytesPerToken() {
    return gateUp.weightBytes() + down.weightBytes();
  }
}
