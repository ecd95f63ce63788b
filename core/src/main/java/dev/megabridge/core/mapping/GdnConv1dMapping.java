package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Gated DeltaNet depthwise {@code conv1d} (docs/mappings.md §2.5): channels are
 * {@code [Q | K | V]}; rank r holds {@code [Q_r; K_r; V_r]}, the r-th contiguous part of each block.
 */
public record GdnConv1dMapping(String megatronParam, Map<String, String> hfParams, GdnHeads heads)
    implements ParamMapping {

  public GdnConv1dMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 0);
  }

  public GdnConv1dMapping(String megatronParam, String hfParam, GdnHeads heads) {
    this(megatronParam, ParamMapping.single(hfParam), heads);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new GdnConv1dMapping(megatron, hf, heads);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor conv = ParamMapping.role(this, hf, TENSOR);
    ParamMapping.requireShape(this, TENSOR, conv, conv.shape().withDim(0, heads.qkvRows()));
    return Tensor.concat(0, heads.qkvParts(this, conv, splitSize, splitRank));
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    return Map.of(TENSOR, GdnHeads.qkv(GdnHeads.sections(megatronParam, shards, heads.qkvPartRows(shards.size()))));
  }
}
