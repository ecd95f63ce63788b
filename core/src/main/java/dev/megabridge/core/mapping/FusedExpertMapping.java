package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Packed routed-expert {@code linear_fc2} (docs/mappings.md §2.6): HF
 * {@code down_proj [E, H, Ie]}; a resolved instance takes {@code HF[expert] [H, Ie]} and row-splits it over
 * ETP. Export yields that expert's {@code [H, Ie]}; the engine stacks all experts.
 */
public record FusedExpertMapping(String megatronParam, Map<String, String> hfParams, int expert)
    implements PackedExperts {

  public FusedExpertMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 1);
  }

  public FusedExpertMapping(String megatronParam, String hfParam) {
    this(megatronParam, ParamMapping.single(hfParam), -1);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new FusedExpertMapping(megatron, hf, expert);
  }

  @Override
  public ParamMapping resolve(List<String> captures) {
    FusedExpertMapping resolved = (FusedExpertMapping) PackedExperts.super.resolve(captures);
    int expertId = PackedExperts.expertId(megatronParam, captures);
    return new FusedExpertMapping(resolved.megatronParam(), resolved.hfParams(), expertId);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor weight = PackedExperts.select(this, hf, expert);
    ParamMapping.requireDivisible(this, "dim 2 of " + hfParams.get(TENSOR), weight.shape().dim(1), splitSize);
    return weight.chunk(1, splitSize, splitRank);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    return Map.of(TENSOR, Tensor.concat(1, shards));
  }
}
