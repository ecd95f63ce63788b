package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SwiGLU {@code linear_fc1} from HF gate/up (docs/mappings.md §2.3): rank r holds
 * {@code [chunk_r(gate, t, 0); chunk_r(up, t, 0)]}. Used for dense MLPs, shared experts and per-expert
 * routed experts (split by ETP there).
 */
public record GatedMlpMapping(String megatronParam, Map<String, String> hfParams) implements ParamMapping {

  public static final String GATE = "gate";
  public static final String UP = "up";

  public GatedMlpMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 2, 0);
  }

  public GatedMlpMapping(String megatronParam, String gate, String up) {
    this(megatronParam, Mappings.roles(List.of(GATE, UP), List.of(gate, up)));
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new GatedMlpMapping(megatron, hf);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor gate = ParamMapping.role(this, hf, GATE);
    Tensor up = ParamMapping.role(this, hf, UP);
    return splitGateUp(this, gate, up, splitSize, splitRank);
  }

  static Tensor splitGateUp(ParamMapping mapping, Tensor gate, Tensor up, int splitSize, int splitRank) {
    ParamMapping.requireShape(mapping, UP, up, gate.shape());
    ParamMapping.requireDivisible(mapping, "dim 0 of the gate/up projection", gate.shape().dim(0), splitSize);
    return Tensor.concat(0, List.of(gate.chunk(0, splitSize, splitRank), up.chunk(0, splitSize, splitRank)));
  }

  /** Gate and up halves of each shard, each concatenated in rank order. */
  static Map<String, Tensor> gatherGateUp(ParamMapping mapping, List<Tensor> shards) {
    ParamMapping.requireShards(mapping, shards);
    long half = shards.getFirst().shape().dim(0) / 2;
    List<Tensor> gates = new ArrayList<>();
    List<Tensor> ups = new ArrayList<>();
    for (Tensor shard : shards) {
      gates.add(shard.slice(0, 0, half));
      ups.add(shard.slice(0, half, half));
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put(GATE, Tensor.concat(0, gates));
    out.put(UP, Tensor.concat(0, ups));
    return out;
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    return gatherGateUp(this, shards);
  }
}
