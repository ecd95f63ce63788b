package dev.megabridge.core.mapping;

import java.util.Optional;

/**
 * Derives an alias Megatron pattern from an existing one, or nothing. Aliases are appended after the
 * registry's own rows (lower priority) by {@link MappingRegistry#withAliases}.
 */
@FunctionalInterface
public interface AliasRule {

  Optional<String> alias(String megatronPattern);

  /** Every pattern containing {@code from} (e.g. {@code .mtp_model_layer.}) gets a copy with {@code to}. */
  static AliasRule infix(String from, String to) {
    return pattern -> pattern.contains(from) ? Optional.of(pattern.replace(from, to)) : Optional.empty();
  }

  /**
   * A pattern ending with {@code "*." + from} gets a copy ending with {@code "*." + to} (the
   * separate-LayerNorm aliases of docs/mappings.md §1.3; literal-prefixed names get none).
   */
  static AliasRule suffix(String from, String to) {
    return pattern -> pattern.endsWith("*." + from)
        ? Optional.of(pattern.substring(0, pattern.length() - from.length()) + to)
        : Optional.empty();
  }

  /** The first rule that yields an alias wins (docs/mappings.md §1.3: one rewrite per mapping). */
  static AliasRule firstOf(AliasRule... rules) {
    return pattern -> {
      for (AliasRule rule : rules) {
        Optional<String> alias = rule.alias(pattern);
        if (alias.isPresent()) {
          return alias;
        }
      }
      return Optional.empty();
    };
  }
}
