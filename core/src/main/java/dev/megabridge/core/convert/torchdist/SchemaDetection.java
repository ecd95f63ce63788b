package dev.megabridge.core.convert.torchdist;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.spi.VocabPadding;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which Megatron schema a torch_dist checkpoint was written for, told from its keys: the model is bound under
 * every schema, each schema's keys that no other schema has are its marks, and the checkpoint must carry the
 * marks of exactly one. Keys both schemas share (embedding, full attention, MLP, MoE, MTP) decide nothing.
 */
public final class SchemaDetection {

  private static final int EXAMPLES = 3;

  private SchemaDetection() {}

  /** The schema whose marks {@code keys} carry; an error naming the offending keys if none or several. */
  public static Schema detect(Path checkpoint, List<String> keys, HfConfig config, Optional<Set<String>> hfNames,
      AutoBridge autoBridge) {
    Map<Schema, Set<String>> schemaKeys = new EnumMap<>(Schema.class);
    for (Schema schema : Schema.values()) {
      BridgeModel model = autoBridge.fromConfig(config, hfNames,
          BridgeOptions.forSchema(schema).withVocabPadding(VocabPadding.none()));
      schemaKeys.put(schema, keysOf(model));
    }
    Map<Schema, List<String>> found = new EnumMap<>(Schema.class);
    for (Schema schema : Schema.values()) {
      List<String> marks = new ArrayList<>();
      for (String key : keys) {
        boolean elsewhere = schemaKeys.entrySet().stream()
            .anyMatch(other -> other.getKey() != schema && other.getValue().contains(key));
        if (schemaKeys.get(schema).contains(key) && !elsewhere) {
          marks.add(key);
        }
      }
      if (!marks.isEmpty()) {
        found.put(schema, marks);
      }
    }
    if (found.size() == 1) {
      return found.keySet().iterator().next();
    }
    if (found.isEmpty()) {
      List<String> unknown = keys.stream()
          .filter(key -> schemaKeys.values().stream().noneMatch(set -> set.contains(key))).limit(EXAMPLES).toList();
      throw new CheckpointFormatException(checkpoint + " matches neither the megatron-bridge nor the slime schema of "
          + config.file() + (unknown.isEmpty() ? ": it has none of the keys that tell them apart"
          : "; first keys neither has: " + String.join(", ", unknown)));
    }
    StringBuilder message = new StringBuilder(checkpoint + " mixes Megatron schemas:");
    found.forEach((schema, marks) -> message.append(' ').append(schema.id()).append(" keys (e.g. ")
        .append(String.join(", ", marks.subList(0, Math.min(EXAMPLES, marks.size())))).append(");"));
    throw new CheckpointFormatException(message.substring(0, message.length() - 1));
  }

  /** Every key (section keys included) the scheme places the model's TP=1 parameters at. */
  private static Set<String> keysOf(BridgeModel model) {
    TorchDistScheme scheme = TorchDistScheme.of(model);
    Set<String> keys = new LinkedHashSet<>();
    for (MegatronParam param : model.megatronParams(ParallelLayout.single())) {
      for (String key : scheme.place(param).form().storedKeys()) {
        keys.addAll(scheme.readCandidates(key));
      }
    }
    return keys;
  }
}
