package dev.megabridge.core.mapping;

import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The Gated DeltaNet head arithmetic shared by the {@code in_proj} and {@code conv1d} mappings
 * (docs/mappings.md §2.5): the {@code [Q | K | V]} channel blocks of {@code keyDim}, {@code keyDim} and
 * {@code valueDim} rows, of which tensor-parallel rank r takes the r-th contiguous, head-aligned part of each. The
 * sizes are the config's {@code linear_num_key_heads}, {@code linear_num_value_heads}, {@code linear_key_head_dim} and
 * {@code linear_value_head_dim}.
 */
public record GdnHeads(int numKeyHeads, int numValueHeads, int keyHeadDim, int valueHeadDim) {

  long keyDim() {
    return (long) numKeyHeads * keyHeadDim;
  }

  long valueDim() {
    return (long) numValueHeads * valueHeadDim;
  }

  /** Rows of {@code [Q | K | V]}: {@code 2·keyDim + valueDim}. */
  long qkvRows() {
    return 2 * keyDim() + valueDim();
  }

  /** {@code [Q_r, K_r, V_r]} of a tensor whose dim 0 starts with the Q, K and V blocks. */
  List<Tensor> qkvParts(ParamMapping mapping, Tensor tensor, int splitSize, int splitRank) {
    ParamMapping.requireDivisible(mapping, "linear_num_key_heads", numKeyHeads, splitSize);
    ParamMapping.requireDivisible(mapping, "linear_num_value_heads", numValueHeads, splitSize);
    long keyPart = keyDim() / splitSize;
    long valuePart = valueDim() / splitSize;
    return List.of(
        tensor.slice(0, splitRank * keyPart, keyPart),
        tensor.slice(0, keyDim() + splitRank * keyPart, keyPart),
        tensor.slice(0, 2 * keyDim() + splitRank * valuePart, valuePart));
  }

  /** The rows of one rank's shard that come from Q, K and V: {@code keyDim/t, keyDim/t, valueDim/t}. */
  long[] qkvPartRows(int splitSize) {
    return new long[] {keyDim() / splitSize, keyDim() / splitSize, valueDim() / splitSize};
  }

  /**
   * Cuts every rank's shard into consecutive row sections of {@code sizes} (which must cover the shard) and returns,
   * per section, the ranks' pieces in rank order: concatenating section s's pieces rebuilds HF block s.
   */
  static List<List<Tensor>> sections(String megatronParam, List<Tensor> shards, long[] sizes) {
    List<List<Tensor>> blocks = new ArrayList<>();
    for (int block = 0; block < sizes.length; block++) {
      blocks.add(new ArrayList<>());
    }
    for (Tensor shard : shards) {
      long start = 0;
      for (int block = 0; block < sizes.length; block++) {
        blocks.get(block).add(shard.slice(0, start, sizes[block]));
        start += sizes[block];
      }
      if (start != shard.shape().dim(0)) {
        throw new ShapeMismatchException(megatronParam + ": shard has " + shard.shape().dim(0) + " rows, expected "
            + start);
      }
    }
    return blocks;
  }

  /** Q, K and V rebuilt from their sections: the rank pieces of Q, then of K, then of V. */
  static Tensor qkv(List<List<Tensor>> sections) {
    List<Tensor> all = new ArrayList<>(sections.get(0));
    all.addAll(sections.get(1));
    all.addAll(sections.get(2));
    return Tensor.concat(0, all);
  }
}
