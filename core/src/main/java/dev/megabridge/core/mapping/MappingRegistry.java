package dev.megabridge.core.mapping;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * An immutable, ordered mapping table (docs/mappings.md §1). Order is priority: lookups return the first matching row.
 * All patterns are compiled once, in the constructor; the only way to add rows is to derive a new registry
 * ({@link #withAliases}), which rebuilds and recompiles — a built registry cannot be appended to.
 */
public final class MappingRegistry {

  private record Compiled(ParamMapping mapping, NamePattern megatron, Map<String, NamePattern> hf) {}

  private final List<ParamMapping> mappings;
  private final List<Compiled> compiled;

  private MappingRegistry(List<ParamMapping> mappings) {
    this.mappings = List.copyOf(mappings);
    List<Compiled> out = new ArrayList<>(mappings.size());
    for (ParamMapping mapping : this.mappings) {
      Map<String, NamePattern> hf = new LinkedHashMap<>();
      mapping.hfParams().forEach((role, pattern) -> hf.put(role, new NamePattern(pattern)));
      out.add(new Compiled(mapping, new NamePattern(mapping.megatronParam()), hf));
    }
    this.compiled = List.copyOf(out);
  }

  public static MappingRegistry of(List<? extends ParamMapping> mappings) {
    return new MappingRegistry(List.copyOf(mappings));
  }

  public static MappingRegistry of(ParamMapping... mappings) {
    return new MappingRegistry(List.of(mappings));
  }

  /** The rows in priority order (unmodifiable). */
  public List<ParamMapping> mappings() {
    return mappings;
  }

  public int size() {
    return mappings.size();
  }

  /** The first row matching the concrete Megatron name, resolved to concrete HF names. */
  public Optional<ParamMapping> megatronToHf(String megatronName) {
    for (Compiled row : compiled) {
      Optional<List<String>> captures = row.megatron().match(megatronName);
      if (captures.isPresent()) {
        return Optional.of(captures.get().isEmpty() ? row.mapping() : row.mapping().resolve(captures.get()));
      }
    }
    return Optional.empty();
  }

  /**
   * The first row one of whose HF patterns matches {@code hfName}, resolved with the HF captures
   * (docs/mappings.md §1.2). Ambiguous by nature (several Megatron params can read one HF tensor): conversion is
   * driven from Megatron names; this lookup is for inspection.
   */
  public Optional<ParamMapping> hfToMegatron(String hfName) {
    for (Compiled row : compiled) {
      for (NamePattern pattern : row.hf().values()) {
        Optional<List<String>> captures = pattern.match(hfName);
        if (captures.isPresent()) {
          return Optional.of(row.mapping().resolve(captures.get()));
        }
      }
    }
    return Optional.empty();
  }

  /**
   * A new registry: these rows, then for every row whose Megatron pattern {@code rule} rewrites, a copy
   * under the rewritten pattern with the same HF names and transform — unless a row with that pattern
   * already exists. Applying the same rule twice therefore changes nothing.
   */
  public MappingRegistry withAliases(AliasRule rule) {
    Set<String> existing = new HashSet<>();
    for (ParamMapping mapping : mappings) {
      existing.add(mapping.megatronParam());
    }
    List<ParamMapping> rows = new ArrayList<>(mappings);
    for (ParamMapping mapping : mappings) {
      Optional<String> alias = rule.alias(mapping.megatronParam());
      if (alias.isPresent() && existing.add(alias.get())) {
        rows.add(mapping.withNames(alias.get(), mapping.hfParams()));
      }
    }
    return rows.size() == mappings.size() ? this : new MappingRegistry(rows);
  }

  /** Human-readable table, laid out as docs/mappings.md §1.2 describes. */
  public String describe() {
    StringBuilder out = new StringBuilder("MappingRegistry with " + mappings.size() + " mappings:\n");
    int index = 1;
    for (ParamMapping mapping : mappings) {
      out.append('\n').append(index++).append(". ").append(mapping.megatronParam()).append('\n');
      if (mapping.hfParams().size() == 1 && mapping.hfParams().containsKey(ParamMapping.TENSOR)) {
        out.append("   → ").append(mapping.hfParams().get(ParamMapping.TENSOR)).append('\n');
      } else {
        out.append("   → {\n");
        mapping.hfParams().forEach((role, pattern) -> out.append("       ").append(role).append(": ")
            .append(pattern).append('\n'));
        out.append("     }\n");
      }
      out.append("   bridge: ").append(mapping.kind()).append('\n');
    }
    return out.toString();
  }

  @Override
  public String toString() {
    return "MappingRegistry(" + mappings.size() + " mappings)";
  }
}
