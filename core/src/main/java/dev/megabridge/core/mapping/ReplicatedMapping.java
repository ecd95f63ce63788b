package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/** Replicated (docs/mappings.md §2): the full tensor on every rank; export takes rank 0's copy. */
public record ReplicatedMapping(String megatronParam, Map<String, String> hfParams) implements ParamMapping {

  public ReplicatedMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 0);
  }

  public ReplicatedMapping(String megatronParam, String hfParam) {
    this(megatronParam, ParamMapping.single(hfParam));
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new ReplicatedMapping(megatron, hf);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    return ParamMapping.role(this, hf, TENSOR);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    return Map.of(TENSOR, shards.getFirst());
  }
}
