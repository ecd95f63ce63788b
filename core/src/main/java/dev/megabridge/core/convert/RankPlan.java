package dev.megabridge.core.convert;

import dev.megabridge.core.parallel.ParallelLayout.Rank;
import java.util.List;

/** The tensors of one (tp, pp, ep) rank file, in write order. */
public record RankPlan(Rank rank, String directory, List<ShardEntry> entries) {

  public RankPlan {
    entries = List.copyOf(entries);
  }

  public long byteSize() {
    return entries.stream().mapToLong(entry -> entry.shape().numel() * entry.dtype().byteSize()).sum();
  }
}
