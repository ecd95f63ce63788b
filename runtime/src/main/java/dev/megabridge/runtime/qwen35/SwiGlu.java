package dev.megabridge.runtime.qwen35;

import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.Functions;
import dev.megabridge.runtime.ops.Linear;

/** {@code down( SiLU(x·gateᵀ) ⊙ (x·upᵀ) )} (spec §3.4); also one routed or shared expert. */
record SwiGlu(Linear gate, Linear up, Linear down) implements FeedForward {

  static SwiGlu load(ModelWeights weights, String prefix, int hidden, int intermediate) {
    SwiGlu mlp = new SwiGlu(weights.linear(prefix + "gate_proj.weight"), weights.linear(prefix + "up_proj.weight"),
        weights.linear(prefix + "down_proj.weight"));
    mlp.checkShapes(hidden, intermediate, prefix);
    return mlp;
  }

  void checkShapes(int hidden, int intermediate, String name) {
    Shapes.check(gate, intermediate, hidden, name + "gate_proj");
    Shapes.check(up, intermediate, hidden, name + "up_proj");
    Shapes.check(down, hidden, intermediate, name + "down_proj");
  }

  @Override
  public void forward(Compute compute, float[] input, int tokens, float[] out, ForwardTrace trace,
      String layerKey) {
    int intermediate = gate.outFeatures();
    float[] gated = new float[tokens * intermediate];
    float[] upValues = new float[tokens * intermediate];
    gate.apply(compute, input, tokens, gated);
    up.apply(compute, input, tokens, upValues);
    for (int i = 0; i < gated.length; i++) {
      gated[i] = Functions.silu(gated[i]) * upValues[i];
    }
    down.apply(compute, gated, tokens, out);
  }

  @Override
  public long weightBytesPerToken() {
    return gate.weightBytes() + up.weightBytes() + down.weightBytes();
  }
}
