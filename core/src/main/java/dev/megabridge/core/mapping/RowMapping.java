package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Row-parallel (docs/mappings.md §2): 2-D weights split along dim 1 ({@code chunk_r(X, t, 1)}); 1-D biases are
 * replicated on every rank.
 */
public record RowMapping(String megatronParam, Map<String, String> hfParams) implements ParamMapping {

  public RowMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 0);
  }

  public RowMapping(String megatronParam, String hfParam) {
    this(megatronParam, ParamMapping.single(hfParam));
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new RowMapping(megatron, hf);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor tensor = ParamMapping.role(this, hf, TENSOR);
    ParamMapping.requireRank(this, TENSOR, tensor, 1, 2);
    if (tensor.shape().rank() == 1) {
      return tensor;
    }
    ParamMapping.requireDivisible(this, "dim 1 of " + hfParams.get(TENSOR), tensor.shape().dim(1), splitSize);
    return tensor.chunk(1, splitSize, splitRank);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    if (shards.getFirst().shape().rank() == 1) {
      return Map.of(TENSOR, shards.getFirst());
    }
    return Map.of(TENSOR, Tensor.concat(1, shards));
  }
}
