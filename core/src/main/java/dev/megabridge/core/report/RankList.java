package dev.megabridge.core.report;

import java.util.Collection;
import java.util.List;
import java.util.StringJoiner;

/** Rank indices the way {@code --ranks} takes them: sorted, runs of three or more as ranges, e.g. {@code 0-3,8}. */
public final class RankList {
  private RankList() {}

  public static String format(Collection<Integer> indices) {
    List<Integer> sorted = indices.stream().sorted().distinct().toList();
    StringJoiner out = new StringJoiner(",");
    for (int start = 0; start < sorted.size(); ) {
      int end = start;
      while (end + 1 < sorted.size() && sorted.get(end + 1) == sorted.get(end) + 1) {
        end++;
      }
      if (end - start >= 2) {
        out.add(sorted.get(start) + "-" + sorted.get(end));
      } else {
        for (int at = start; at <= end; at++) {
          out.add(sorted.get(at).toString());
        }
      }
      start = end + 1;
    }
    return out.toString();
  }
}
