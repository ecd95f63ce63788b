package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.ConvertedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Replicated norm weight whose convention differs by one (docs/mappings.md §2.4):
 * HF stores the plain gamma, Megatron the zero-centred one. Import computes {@code hf − 1}, export
 * {@code meg + 1}, each in fp32 and rounded once to the tensor's own dtype.
 */
public record ZeroCenteredNormMapping(String megatronParam, Map<String, String> hfParams) implements ParamMapping {

  public ZeroCenteredNormMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 0);
  }

  public ZeroCenteredNormMapping(String megatronParam, String hfParam) {
    this(megatronParam, ParamMapping.single(hfParam));
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new ZeroCenteredNormMapping(megatron, hf);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor tensor = ParamMapping.role(this, hf, TENSOR);
    return new ConvertedTensor(tensor, tensor.dtype(), -1f);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    Tensor shard = shards.getFirst();
    return Map.of(TENSOR, new ConvertedTensor(shard, shard.dtype(), 1f));
  }
}
