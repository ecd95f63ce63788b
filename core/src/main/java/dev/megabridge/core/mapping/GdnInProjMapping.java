package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Gated DeltaNet {@code in_proj} from the four separate HF projections (docs/mappings.md §2.5, in_proj table):
 * rank r holds {@code [q_r; k_r; v_r; z_r; beta_r; alpha_r]}, each the r-th of t contiguous parts of its HF block
 * (q and k from {@code in_proj_qkv} rows [0, QK) and [QK, 2QK), v from [2QK, 2QK+VD)). The full
 * Megatron tensor therefore depends on t.
 */
public record GdnInProjMapping(String megatronParam, Map<String, String> hfParams, GdnHeads heads)
    implements ParamMapping {

  public static final String QKV = "qkv";
  public static final String Z = "z";
  public static final String B = "b";
  public static final String A = "a";

  public GdnInProjMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 4, 0);
  }

  public GdnInProjMapping(String megatronParam, String qkv, String z, String b, String a, GdnHeads heads) {
    this(megatronParam, Mappings.roles(List.of(QKV, Z, B, A), List.of(qkv, z, b, a)), heads);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new GdnInProjMapping(megatron, hf, heads);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor qkv = ParamMapping.role(this, hf, QKV);
    Tensor z = ParamMapping.role(this, hf, Z);
    Tensor b = ParamMapping.role(this, hf, B);
    Tensor a = ParamMapping.role(this, hf, A);
    ParamMapping.requireRank(this, QKV, qkv, 2);
    long hidden = qkv.shape().dim(1);
    ParamMapping.requireShape(this, QKV, qkv, Shape.of(heads.qkvRows(), hidden));
    ParamMapping.requireShape(this, Z, z, Shape.of(heads.valueDim(), hidden));
    ParamMapping.requireShape(this, B, b, Shape.of(heads.numValueHeads(), hidden));
    ParamMapping.requireShape(this, A, a, Shape.of(heads.numValueHeads(), hidden));
    List<Tensor> parts = new ArrayList<>(heads.qkvParts(this, qkv, splitSize, splitRank));
    parts.add(z.chunk(0, splitSize, splitRank));
    parts.add(b.chunk(0, splitSize, splitRank));
    parts.add(a.chunk(0, splitSize, splitRank));
    return Tensor.concat(0, parts);
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    int splitSize = shards.size();
    long[] qkvRows = heads.qkvPartRows(splitSize);
    long headPart = heads.numValueHeads() / splitSize;
    List<List<Tensor>> blocks = GdnHeads.sections(megatronParam, shards,
        new long[] {qkvRows[0], qkvRows[1], qkvRows[2], qkvRows[2], headPart, headPart});
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put(QKV, GdnHeads.qkv(blocks));
    out.put(Z, Tensor.concat(0, blocks.get(3)));
    out.put(B, Tensor.concat(0, blocks.get(4)));
    out.put(A, Tensor.concat(0, blocks.get(5)));
    return out;
  }
}
