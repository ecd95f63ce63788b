package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.Functions;
import dev.megabridge.runtime.ops.Linear;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Sparse MoE (docs/model.md §3.7): softmax over all router logits (fp32), top-k, renormalised weights, routed experts
 * summed in ascending expert index, plus the shared expert scaled by {@code sigmoid(x·shared_expert_gateᵀ)}.
 * Experts load from per-expert tensors ({@code experts.<e>.{gate,up,down}_proj.weight}) or packed ones
 * ({@code experts.gate_up_proj [E, 2I, H]}, {@code experts.down_proj [E, H, I]}), as zero-copy row views.
 */
record MoeBlock(Linear router, List<SwiGlu> experts, int topK, SwiGlu sharedExpert, Linear sharedExpertGate)
    implements FeedForward {

  static MoeBlock load(ModelWeights weights, String prefix, int hidden, int expertCount, int topK,
      int expertIntermediate, int sharedIntermediate) {
    Linear router = weights.linear(prefix + "gate.weight");
    Shapes.check(router, expertCount, hidden, prefix + "gate");
    List<SwiGlu> experts = new ArrayList<>(expertCount);
    String packedGateUp = prefix + "experts.gate_up_proj";
    String packedDown = prefix + "experts.down_proj";
    if (weights.contains(packedGateUp)) {
      Tensor gateUp = weights.tensor(packedGateUp);
      Tensor down = weights.require(packedDown);
      if (gateUp.shape().rank() != 3 || gateUp.shape().dim(0) != expertCount
          || down.shape().rank() != 3 || down.shape().dim(0) != expertCount) {
        throw new CheckpointFormatException(packedGateUp + " " + gateUp.shape() + " / down_proj " + down.shape()
            + " do not hold " + expertCount + " packed experts");
      }
      for (int expert = 0; expert < expertCount; expert++) {
        SwiGlu mlp = new SwiGlu(weights.packedExpert(packedGateUp, expert), weights.packedExpert(packedDown, expert));
        mlp.checkShapes(hidden, expertIntermediate, prefix + "experts." + expert + ".");
        experts.add(mlp);
      }
    } else {
      for (int expert = 0; expert < expertCount; expert++) {
        String expertPrefix = prefix + "experts." + expert + ".";
        if (!weights.contains(expertPrefix + "gate_proj.weight")) {
          throw new CheckpointFormatException("neither " + packedGateUp + " nor " + expertPrefix
              + "gate_proj.weight is present");
        }
        experts.add(SwiGlu.load(weights, expertPrefix, hidden, expertIntermediate));
      }
    }
    SwiGlu shared = SwiGlu.load(weights, prefix + "shared_expert.", hidden, sharedIntermediate);
    Linear sharedGate = weights.linear(prefix + "shared_expert_gate.weight");
    Shapes.check(sharedGate, 1, hidden, prefix + "shared_expert_gate");
    return new MoeBlock(router, List.copyOf(experts), topK, shared, sharedGate);
  }

  @Override
  public void forward(Compute compute, float[] input, int tokens, float[] out, ForwardTrace trace,
      String layerKey) {
    int hidden = router.inFeatures();
    int expertCount = experts.size();
    float[] logits = new float[tokens * expertCount];
    router.apply(compute, input, tokens, logits);
    trace.snapshot(layerKey + ".router_logits", logits, tokens, expertCount);

    // Routing: top-k of the softmax, descending, ties to the lower index; weights renormalised.
    int[] chosen = new int[tokens * topK];
    float[] chosenWeights = new float[tokens * topK];
    float[] probabilities = logits.clone();
    for (int token = 0; token < tokens; token++) {
      int offset = token * expertCount;
      Functions.softmax(probabilities, offset, expertCount);
      boolean[] taken = new boolean[expertCount];
      float total = 0f;
      for (int k = 0; k < topK; k++) {
        int best = -1;
        for (int expert = 0; expert < expertCount; expert++) {
          if (!taken[expert] && (best < 0 || probabilities[offset + expert] > probabilities[offset + best])) {
            best = expert;
          }
        }
        taken[best] = true;
        chosen[token * topK + k] = best;
        chosenWeights[token * topK + k] = probabilities[offset + best];
        total += probabilities[offset + best];
      }
      for (int k = 0; k < topK; k++) {
        chosenWeights[token * topK + k] /= total;
      }
    }
    if (trace != ForwardTrace.NONE) {
      float[] indices = new float[chosen.length];
      for (int i = 0; i < chosen.length; i++) {
        indices[i] = chosen[i];
      }
      trace.record(layerKey + ".topk_idx", indices, tokens, topK);
      trace.record(layerKey + ".topk_weight", chosenWeights.clone(), tokens, topK);
    }

    // Routed experts in ascending index; each runs once on the batch of tokens routed to it.
    Arrays.fill(out, 0, tokens * hidden, 0f);
    for (int expert = 0; expert < expertCount; expert++) {
      int count = 0;
      int[] rows = new int[tokens];
      float[] rowWeights = new float[tokens];
      for (int token = 0; token < tokens; token++) {
        for (int k = 0; k < topK; k++) {
          if (chosen[token * topK + k] == expert) {
            rows[count] = token;
            rowWeights[count++] = chosenWeights[token * topK + k];
          }
        }
      }
      if (count == 0) {
        continue;
      }
      float[] gathered = new float[count * hidden];
      for (int i = 0; i < count; i++) {
        System.arraycopy(input, rows[i] * hidden, gathered, i * hidden, hidden);
      }
      float[] result = new float[count * hidden];
      experts.get(expert).forward(compute, gathered, count, result, ForwardTrace.NONE, layerKey);
      for (int i = 0; i < count; i++) {
        int target = rows[i] * hidden;
        for (int j = 0; j < hidden; j++) {
          out[target + j] += result[i * hidden + j] * rowWeights[i];
        }
      }
    }

    float[] shared = new float[tokens * hidden];
    sharedExpert.forward(compute, input, tokens, shared, ForwardTrace.NONE, layerKey);
    float[] sharedGateLogits = new float[tokens];
    sharedExpertGate.apply(compute, input, tokens, sharedGateLogits);
    for (int token = 0; token < tokens; token++) {
      float scale = Functions.sigmoid(sharedGateLogits[token]);
      for (int j = 0; j < hidden; j++) {
        out[token * hidden + j] += scale * shared[token * hidden + j];
      }
    }
  }

  @Override
  public long weightBytesPerToken() {
    long perExpert = experts.getFirst().weightBytesPerToken();
    return router.weightBytes() + topK * perExpert + sharedExpert.weightBytesPerToken()
        + sharedExpertGate.weightBytes();
  }
}
