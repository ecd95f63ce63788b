package dev.megabridge.core.mapping;

import dev.megabridge.core.error.InternalException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Construction-time checks shared by the mapping records. */
final class Mappings {
  private Mappings() {}

  /**
   * Copies {@code hfParams} (keeping role order) after checking the role count and the wildcard-count
   * rule of docs/mappings.md §1.1: every HF pattern has as many wildcards as the Megatron pattern, minus
   * {@code extraMegatronWildcards} (1 for packed experts, whose Megatron side also captures the expert).
   */
  static Map<String, String> checked(String megatronParam, Map<String, String> hfParams, int roles,
      int extraMegatronWildcards) {
    if (hfParams.size() != roles) {
      throw new InternalException(megatronParam + ": expected " + roles + " HF roles, got " + hfParams.keySet());
    }
    int megatronWildcards = NamePattern.countWildcards(megatronParam);
    for (Map.Entry<String, String> entry : hfParams.entrySet()) {
      int hfWildcards = NamePattern.countWildcards(entry.getValue());
      if (hfWildcards + extraMegatronWildcards != megatronWildcards
          && !(extraMegatronWildcards > 0 && hfWildcards == 0 && megatronWildcards <= extraMegatronWildcards)) {
        throw new InternalException("wildcard count mismatch: " + megatronParam + " has " + megatronWildcards
            + ", " + entry.getValue() + " has " + hfWildcards);
      }
    }
    return Collections.unmodifiableMap(new LinkedHashMap<>(hfParams));
  }

  static Map<String, String> roles(List<String> roleNames, List<String> patterns) {
    Map<String, String> out = new LinkedHashMap<>();
    for (int index = 0; index < roleNames.size(); index++) {
      out.put(roleNames.get(index), patterns.get(index));
    }
    return out;
  }
}
