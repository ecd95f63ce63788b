package dev.megabridge.core.convert.torchdist;

import dev.megabridge.core.convert.ShardEntry;
import dev.megabridge.core.convert.ShardPlan;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.torchdist.TorchDistChunks;
import dev.megabridge.core.io.torchdist.TorchDistWriter.BytesEntry;
import dev.megabridge.core.io.torchdist.TorchDistWriter.Contents;
import dev.megabridge.core.io.torchdist.TorchDistWriter.TensorEntry;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Builds the torch_dist contents of a model from its HF tensors: every owned parameter of a single-rank
 * (TP=1/PP=1/EP=1) {@link ShardPlan} is cut as its full Megatron tensor ({@code mapping.toMegatron(hf, 1, 0)})
 * and placed by the model's {@link TorchDistScheme}; stacked layers and experts are gathered on their
 * leading axis, and one empty {@code _extra_state} object is added per Transformer Engine module
 * (docs/formats.md §3.13).
 * Every tensor stays a lazy view of the source: nothing is read until the writer streams it.
 */
public final class TorchDistKeys {
  private TorchDistKeys() {}

  /** A key being built: complete, or the leading-axis parts of a stacked key gathered so far. */
  private sealed interface Pending permits Ready, Stack {}

  private record Ready(TensorEntry entry) implements Pending {}

  private record Stack(DistForm.Stacked form, TreeMap<Integer, Tensor> parts) implements Pending {}

  public static Contents contents(ShardPlan plan, TorchDistScheme scheme, TensorSource source, PyDict commonState) {
    if (plan.ranks().size() != 1) {
      throw new InternalException("torch_dist contents need a single-rank plan, got " + plan.layout().describe());
    }
    Map<String, Pending> byKey = new LinkedHashMap<>();
    Set<String> extraStates = new LinkedHashSet<>();
    for (ShardEntry entry : plan.ranks().getFirst().entries()) {
      if (entry.param().copy()) {
        continue;
      }
      DistPlacement placement = scheme.place(entry.param());
      Tensor full = stored(scheme, entry, source);
      switch (placement.form()) {
        case DistForm.Whole whole -> put(byKey, whole.key(), TorchDistChunks.single(whole.key(), full));
        case DistForm.SwigluHalves halves -> put(byKey, halves.key(), TorchDistChunks.swigluFc1(halves.key(), full));
        case DistForm.Sections sections -> {
          Map<String, Long> rows = new LinkedHashMap<>();
          sections.sections().forEach(section -> rows.put(section.name(), section.rows()));
          for (TensorEntry section : TorchDistChunks.sections(sections.key(), full, rows)) {
            put(byKey, section.key(), section);
          }
        }
        case DistForm.Stacked stacked -> {
          Stack stack = (Stack) byKey.computeIfAbsent(stacked.key(), key -> new Stack(stacked, new TreeMap<>()));
          if (stack.form().count() != stacked.count() || stack.form().swigluHalves() != stacked.swigluHalves()
              || stack.parts().put(stacked.index(), full) != null) {
            throw new MappingException("'" + stacked.key() + "': " + entry.param().name() + " collides with "
                + stack.form() + " at index " + stacked.index());
          }
        }
      }
      placement.extraStateKey().ifPresent(extraStates::add);
    }
    List<TensorEntry> tensors = new ArrayList<>();
    for (Map.Entry<String, Pending> keyed : byKey.entrySet()) {
      switch (keyed.getValue()) {
        case Ready ready -> tensors.add(ready.entry());
        case Stack stack -> {
          if (stack.parts().size() != stack.form().count()) {
            throw new MappingException("'" + keyed.getKey() + "': have indices " + stack.parts().keySet() + ", need 0.."
                + (stack.form().count() - 1));
          }
          tensors.add(TorchDistChunks.experts(keyed.getKey(), List.copyOf(stack.parts().values()),
              stack.form().swigluHalves()));
        }
      }
    }
    return new Contents(tensors, extraStates.stream().map(BytesEntry::emptyExtraState).toList(), commonState);
  }

  /** The full tensor of {@code entry} in the dtype the scheme stores it in. */
  private static Tensor stored(TorchDistScheme scheme, ShardEntry entry, TensorSource source) {
    Tensor full = entry.cut(source);
    DType dtype = scheme.storedDtype(entry.param(), full.dtype());
    return dtype == full.dtype() ? full : full.convert(dtype);
  }

  /**
   * The source tensors of the parameters the scheme stores in a narrower dtype, by Megatron name, so that a
   * round trip can give back their exact values ({@link TorchDistSidecar#NARROWED_FILE}).
   */
  public static List<SafetensorsWriter.Entry> narrowedOriginals(ShardPlan plan, TorchDistScheme scheme,
      TensorSource source) {
    List<SafetensorsWriter.Entry> out = new ArrayList<>();
    for (ShardEntry entry : plan.ranks().getFirst().entries()) {
      if (!entry.param().copy() && scheme.storedDtype(entry.param(), entry.dtype()) != entry.dtype()) {
        out.add(new SafetensorsWriter.Entry(entry.param().name(), entry.cut(source)));
      }
    }
    return out;
  }

  private static void put(Map<String, Pending> byKey, String key, TensorEntry entry) {
    if (byKey.putIfAbsent(key, new Ready(entry)) != null) {
      throw new MappingException("torch_dist key '" + key + "' is produced twice");
    }
  }
}
