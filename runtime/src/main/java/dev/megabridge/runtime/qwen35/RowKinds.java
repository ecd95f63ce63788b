package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.mapping.NamePattern;
import dev.megabridge.core.mapping.PackedExpertMapping.Projection;
import dev.megabridge.core.mapping.PackedExpertMapping;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.mapping.RowMapping;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.qwen35.Qwen35MappingTables.ExpertStorage;
import dev.megabridge.qwen35.Qwen35MappingTables;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The HF weights whose layers reduce in the canonical row-parallel order (docs/model.md §9.4): exactly those the
 * Megatron-Bridge mapping table splits along their input dimension ({@link RowMapping}, and
 * {@link PackedExpertMapping}'s {@link Projection#DOWN} for packed down projections; docs/mappings.md §2). Read off the table for both expert
 * storages, under the canonical {@code model.language_model.} names the runtime asks for, so that the HF path and
 * every tensor-parallel split of any schema reduce the same layers the same way.
 */
public final class RowKinds {

  private static final String TEXT_ONLY_PREFIX = "model.";
  private static final String CANONICAL_PREFIX = "model.language_model.";

  private final List<NamePattern> patterns;

  private RowKinds(List<NamePattern> patterns) {
    this.patterns = List.copyOf(patterns);
  }

  public static RowKinds of(Qwen35Config config) {
    Set<String> texts = new LinkedHashSet<>();
    for (ExpertStorage storage : ExpertStorage.values()) {
      for (ParamMapping mapping : Qwen35MappingTables.registry(config, storage, storage, BridgeOptions.defaults())
          .mappings()) {
        if (mapping instanceof RowMapping
            || mapping instanceof PackedExpertMapping packed && packed.projection() == Projection.DOWN) {
          for (String hfName : mapping.hfParams().values()) {
            texts.add(hfName);
            // A text-only checkpoint's names lack "language_model."; the runtime asks with the canonical prefix.
            if (!config.visionLanguage() && hfName.startsWith(TEXT_ONLY_PREFIX)) {
              texts.add(CANONICAL_PREFIX + hfName.substring(TEXT_ONLY_PREFIX.length()));
            }
          }
        }
      }
    }
    List<NamePattern> patterns = new ArrayList<>();
    texts.forEach(text -> patterns.add(new NamePattern(text)));
    return new RowKinds(patterns);
  }

  /** Whether the HF weight {@code name} is split by input column in Megatron-Bridge's table. */
  public boolean contains(String name) {
    for (NamePattern pattern : patterns) {
      if (pattern.match(name).isPresent()) {
        return true;
      }
    }
    return false;
  }
}
