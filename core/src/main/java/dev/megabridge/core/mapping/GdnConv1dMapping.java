package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Gated DeltaNet depthwise {@code conv1d} (spec §3.8 {@code GDNConv1dMapping}): channels are
 * {@code [Q | K | V]}; rank r holds {@code [Q_r; K_r; V_r]}, the r-th contiguous part of each block.
 */
public record GdnConv1dMapping(String megatronParam, Map<String, String> hfParams, int numKeyHeads,
    int numValueHeads, int keyHeadDim, int valueHeadDim) implements ParamMapping {

  public GdnConv1dMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 0);
  }

  public GdnConv1dMapping(String megatronParam, String hfParam, int numKeyHeads, int numValueHeads, int keyHeadDim,
      int valueHeadDim) {
    this(megatronParam, ParamMapping.single(hfParam), numKeyHeads, numValueHeads, keyHeadDim, valueHeadDim);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new GdnConv1dMapping(megatron, hf, numKeyHeads, numValueHeads, keyHeadDim, valueHeadDim);
  }

  private long keyDim() {
    return (long) numKeyHeads * keyHeadDim;
  }

  private long valueDim() {
    return (long) numValueHeads * valueHeadDim;
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor conv = ParamMapping.role(this, hf, TENSOR);
    ParamMapping.requireShape(this, TENSOR, conv, conv.shape().withDim(0, 2 * keyDim() + valueDim()));
    return Tensor.concat(0, GdnSections.qkvParts(this, conv, numKeyHeads, numValueHeads, keyHeadDim, valueHeadDim,
        splitSize, splitRank));
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    long keyPart = keyDim() / shards.size();
    long valuePart = valueDim() / shards.size();
    List<Tensor> q = new ArrayList<>();
    List<Tensor> k = new ArrayList<>();
    List<Tensor> v = new ArrayList<>();
    for (Tensor shard : shards) {
      q.add(shard.slice(0, 0, keyPart));
      k.add(shard.slice(0, keyPart, keyPart));
      v.add(shard.slice(0, 2 * keyPart, valuePart));
    }
    List<Tensor> all = new ArrayList<>(q);
    all.addAll(k);
    all.addAll(v);
    return Map.of(TENSOR, Tensor.concat(0, all));
  }
}
