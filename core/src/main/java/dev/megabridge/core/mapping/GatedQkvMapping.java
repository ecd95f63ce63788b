package dev.megabridge.core.mapping;

import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Language full attention with attention output gate (docs/mappings.md §2.1): HF {@code q_proj} holds per head
 * {@code [query_h; gate_h]}, {@code k_proj}/{@code v_proj} are head-major. Megatron {@code linear_qkv}
 * is, per query group g: the query rows of the group's heads, their gate rows, K_g, V_g; column-split so
 * rank r holds groups {@code [r·ng/t, (r+1)·ng/t)}.
 */
public record GatedQkvMapping(String megatronParam, Map<String, String> hfParams, int numHeads, int numQueryGroups,
    int headDim) implements ParamMapping {

  public static final String Q = "q";
  public static final String K = "k";
  public static final String V = "v";

  public GatedQkvMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 3, 0);
    if (numHeads % numQueryGroups != 0) {
      throw new IllegalArgumentException(numHeads + " heads do not split into " + numQueryGroups + " groups");
    }
  }

  public GatedQkvMapping(String megatronParam, String q, String k, String v, int numHeads, int numQueryGroups,
      int headDim) {
    this(megatronParam, Mappings.roles(List.of(Q, K, V), List.of(q, k, v)), numHeads, numQueryGroups, headDim);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new GatedQkvMapping(megatron, hf, numHeads, numQueryGroups, headDim);
  }

  private int headsPerGroup() {
    return numHeads / numQueryGroups;
  }

  /** Rows of one query group in the Megatron tensor: (2·hpg + 2)·hd. */
  private long groupRows() {
    return (2L * headsPerGroup() + 2) * headDim;
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor q = ParamMapping.role(this, hf, Q);
    Tensor k = ParamMapping.role(this, hf, K);
    Tensor v = ParamMapping.role(this, hf, V);
    ParamMapping.requireRank(this, Q, q, 2, 1);
    Shape rest = q.shape().dropFirst();
    ParamMapping.requireShape(this, Q, q, rest.prepend(2L * numHeads * headDim));
    ParamMapping.requireShape(this, K, k, rest.prepend((long) numQueryGroups * headDim));
    ParamMapping.requireShape(this, V, v, rest.prepend((long) numQueryGroups * headDim));
    ParamMapping.requireDivisible(this, "num_query_groups", numQueryGroups, splitSize);
    int groupsPerRank = numQueryGroups / splitSize;
    int hpg = headsPerGroup();
    List<Tensor> parts = new ArrayList<>();
    for (int group = splitRank * groupsPerRank; group < (splitRank + 1) * groupsPerRank; group++) {
      for (int local = 0; local < hpg; local++) {
        int head = group * hpg + local;
        parts.add(q.slice(0, (long) head * 2 * headDim, headDim));
      }
      for (int local = 0; local < hpg; local++) {
        int head = group * hpg + local;
        parts.add(q.slice(0, (long) head * 2 * headDim + headDim, headDim));
      }
      parts.add(k.slice(0, (long) group * headDim, headDim));
      parts.add(v.slice(0, (long) group * headDim, headDim));
    }
    return Tensor.concat(0, parts);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    Tensor full = Tensor.concat(0, shards);
    if (full.shape().dim(0) != numQueryGroups * groupRows()) {
      throw new ShapeMismatchException(megatronParam + ": gathered " + full.shape()
          + " rows, expected " + numQueryGroups * groupRows());
    }
    int hpg = headsPerGroup();
    List<Tensor> q = new ArrayList<>();
    List<Tensor> k = new ArrayList<>();
    List<Tensor> v = new ArrayList<>();
    for (int head = 0; head < numHeads; head++) {
      long groupStart = (head / hpg) * groupRows();
      long local = head % hpg;
      q.add(full.slice(0, groupStart + local * headDim, headDim));
      q.add(full.slice(0, groupStart + (long) hpg * headDim + local * headDim, headDim));
    }
    for (int group = 0; group < numQueryGroups; group++) {
      k.add(full.slice(0, group * groupRows() + 2L * hpg * headDim, headDim));
      v.add(full.slice(0, group * groupRows() + (2L * hpg + 1) * headDim, headDim));
    }
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put(Q, Tensor.concat(0, q));
    out.put(K, Tensor.concat(0, k));
    out.put(V, Tensor.concat(0, v));
    return out;
  }
}
