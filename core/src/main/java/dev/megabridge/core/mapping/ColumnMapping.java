package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/** Column-parallel (docs/mappings.md §2): split along dim 0; rank r holds {@code chunk_r(X, t, 0)}. */
public record ColumnMapping(String megatronParam, Map<String, String> hfParams) implements ParamMapping {

  public ColumnMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 0);
  }

  public ColumnMapping(String megatronParam, String hfParam) {
    this(megatronParam, ParamMapping.single(hfParam));
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new ColumnMapping(megatron, hf);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor tensor = ParamMapping.role(this, hf, TENSOR);
    ParamMapping.requireDivisible(this, "dim 0 of " + hfParams.get(TENSOR), tensor.shape().dim(0), splitSize);
    return tensor.chunk(0, splitSize, splitRank);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    return Map.of(TENSOR, Tensor.concat(0, shards));
  }
}
