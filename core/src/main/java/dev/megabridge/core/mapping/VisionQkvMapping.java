package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Vision attention (docs/mappings.md §2.2): HF fused {@code qkv} = {@code [Q; K; V]} (each head-major, hd rows per
 * head), weight or bias. Megatron row {@code h·3hd + j·hd + d} ← HF row {@code j·Hv + h·hd + d}; column-split so
 * rank r holds heads {@code [r·nh/t, (r+1)·nh/t)}.
 */
public record VisionQkvMapping(String megatronParam, Map<String, String> hfParams, int numHeads, int headDim)
    implements ParamMapping {

  public VisionQkvMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 0);
  }

  public VisionQkvMapping(String megatronParam, String hfParam, int numHeads, int headDim) {
    this(megatronParam, ParamMapping.single(hfParam), numHeads, headDim);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new VisionQkvMapping(megatron, hf, numHeads, headDim);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor qkv = ParamMapping.role(this, hf, TENSOR);
    ParamMapping.requireRank(this, TENSOR, qkv, 1, 2);
    long hidden = (long) numHeads * headDim;
    ParamMapping.requireShape(this, TENSOR, qkv, qkv.shape().withDim(0, 3 * hidden));
    ParamMapping.requireDivisible(this, "vision num_heads", numHeads, splitSize);
    int headsPerRank = numHeads / splitSize;
    List<Tensor> parts = new ArrayList<>();
    for (int head = splitRank * headsPerRank; head < (splitRank + 1) * headsPerRank; head++) {
      for (int part = 0; part < 3; part++) {
        parts.add(qkv.slice(0, part * hidden + (long) head * headDim, headDim));
      }
    }
    return Tensor.concat(0, parts);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    Tensor full = Tensor.concat(0, shards);
    List<Tensor> parts = new ArrayList<>();
    for (int part = 0; part < 3; part++) {
      for (int head = 0; head < numHeads; head++) {
        parts.add(full.slice(0, (long) head * 3 * headDim + (long) part * headDim, headDim));
      }
    }
    return Map.of(TENSOR, Tensor.concat(0, parts));
  }
}
