package dev.megabridge.core.convert;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How an HF checkpoint stores the routed experts of an MoE block {@code <block>.mlp.experts.}: packed, as
 * transformers ≥ 5 loads them ({@code experts.gate_up_proj} [E, 2I, H], {@code experts.down_proj} [E, H, I]),
 * or one set of weights per expert ({@code experts.<j>.gate_proj.weight}, {@code up_proj}, {@code down_proj}).
 */
public enum HfExpertLayout {
  PACKED,
  PER_EXPERT;

  private static final Pattern PER_EXPERT_NAME =
      Pattern.compile("^(.*\\.mlp\\.experts\\.)(\\d+)\\.(gate|up|down)_proj\\.weight$");
  private static final Pattern PACKED_NAME = Pattern.compile("^(.*\\.mlp\\.experts\\.)(gate_up_proj|down_proj)$");

  private static final List<String> PER_EXPERT_KINDS = List.of("down", "gate", "up");

  /** An HF view: the tensor list in order and the lazy tensors by name. */
  public record View(List<HfTensorInfo> infos, Map<String, Tensor> tensors) {
    public View {
      infos = List.copyOf(infos);
      tensors = new LinkedHashMap<>(tensors);
    }
  }

  /** The spelling on the command line: {@code packed}, {@code per-expert}. */
  public String spelling() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /**
   * The HF view {@code infos} / {@code tensors} (lazy, by name) with every MoE block's routed experts in this layout;
   * other tensors pass unchanged. Packing: {@code gate_up_proj[j]} = expert j's gate rows then its up rows,
   * {@code down_proj[j]} = its down weight, placed where the block's first expert tensor was, in the file that held
   * it; unpacking writes expert by expert ({@code down}, {@code gate}, {@code up}) where {@code gate_up_proj} was.
   * Bytes are moved, never converted: a block whose pieces differ in dtype, whose experts are not 0..E−1 each with
   * all three weights, or whose shapes do not fit is a {@link CheckpointFormatException} naming it.
   */
  public View relayout(List<HfTensorInfo> infos, Function<String, Tensor> tensors) {
    Map<String, HfTensorInfo> byName = new HashMap<>();
    infos.forEach(info -> byName.put(info.name(), info));
    List<HfTensorInfo> outInfos = new ArrayList<>();
    Map<String, Tensor> outTensors = new LinkedHashMap<>();
    Set<String> blocksDone = new HashSet<>();
    for (HfTensorInfo info : infos) {
      Matcher perExpert = PER_EXPERT_NAME.matcher(info.name());
      Matcher packed = PACKED_NAME.matcher(info.name());
      if (this == PACKED && perExpert.matches()) {
        if (blocksDone.add(perExpert.group(1))) {
          pack(perExpert.group(1), info.file(), infos, tensors, outInfos, outTensors);
        }
      } else if (this == PER_EXPERT && packed.matches()) {
        if (blocksDone.add(packed.group(1))) {
          unpack(packed.group(1), byName, tensors, outInfos, outTensors);
        }
      } else {
        outInfos.add(info);
        outTensors.put(info.name(), tensors.apply(info.name()));
      }
    }
    return new View(outInfos, outTensors);
  }

  private static void pack(String block, String file, List<HfTensorInfo> infos, Function<String, Tensor> tensors,
      List<HfTensorInfo> outInfos, Map<String, Tensor> outTensors) {
    Map<Integer, Map<String, Tensor>> experts = new TreeMap<>();
    for (HfTensorInfo info : infos) {
      Matcher matcher = PER_EXPERT_NAME.matcher(info.name());
      Matcher packed = PACKED_NAME.matcher(info.name());
      if (matcher.matches() && matcher.group(1).equals(block)) {
        experts.computeIfAbsent(Integer.parseInt(matcher.group(2)), index -> new HashMap<>())
            .put(matcher.group(3), tensors.apply(info.name()));
      } else if (packed.matches() && packed.group(1).equals(block)) {
        throw new CheckpointFormatException(block + ": holds both packed (" + info.name() + ") and per-expert experts");
      }
    }
    List<Tensor> gateUp = new ArrayList<>();
    List<Tensor> down = new ArrayList<>();
    int expected = 0;
    for (Map.Entry<Integer, Map<String, Tensor>> expert : experts.entrySet()) {
      String name = block + expert.getKey() + ".";
      if (expert.getKey() != expected++ || !expert.getValue().keySet().containsAll(PER_EXPERT_KINDS)) {
        throw new CheckpointFormatException(block + ": experts must be 0.." + (experts.size() - 1) + " each with "
            + "gate_proj, up_proj and down_proj to pack; " + name + "* holds " + expert.getValue().keySet());
      }
      Tensor gate = expert.getValue().get("gate");
      Tensor up = expert.getValue().get("up");
      Tensor downWeight = expert.getValue().get("down");
      Tensor first = gateUp.isEmpty() ? gate : gateUp.getFirst();
      if (gate.shape().rank() != 2 || !gate.shape().equals(up.shape()) || downWeight.shape().rank() != 2
          || downWeight.shape().dim(0) != gate.shape().dim(1) || downWeight.shape().dim(1) != gate.shape().dim(0)
          || gate.dtype() != first.dtype() || up.dtype() != first.dtype() || downWeight.dtype() != first.dtype()) {
        throw new CheckpointFormatException(name + "*: gate " + gate.dtype() + gate.shape() + ", up " + up.dtype()
            + up.shape() + ", down " + downWeight.dtype() + downWeight.shape() + " do not pack (expected gate and up "
            + "[I, H], down [H, I], one dtype)");
      }
      gateUp.add(Tensor.concat(0, List.of(gate, up)));
      down.add(downWeight);
    }
    for (Map.Entry<String, List<Tensor>> part : List.of(Map.entry("gate_up_proj", gateUp),
        Map.entry("down_proj", down))) {
      Tensor stacked = Tensor.stack(part.getValue());
      outInfos.add(new HfTensorInfo(block + part.getKey(), stacked.dtype(), stacked.shape(), file));
      outTensors.put(block + part.getKey(), stacked);
    }
  }

  private static void unpack(String block, Map<String, HfTensorInfo> byName, Function<String, Tensor> tensors,
      List<HfTensorInfo> outInfos, Map<String, Tensor> outTensors) {
    HfTensorInfo gateUpInfo = byName.get(block + "gate_up_proj");
    HfTensorInfo downInfo = byName.get(block + "down_proj");
    if (gateUpInfo == null || downInfo == null) {
      throw new CheckpointFormatException(block + ": packed experts need both gate_up_proj and down_proj; "
          + (gateUpInfo == null ? "gate_up_proj" : "down_proj") + " is missing");
    }
    Tensor gateUp = tensors.apply(gateUpInfo.name());
    Tensor down = tensors.apply(downInfo.name());
    Shape pairs = gateUp.shape();
    Shape downs = down.shape();
    if (pairs.rank() != 3 || pairs.dim(1) % 2 != 0 || downs.rank() != 3 || downs.dim(0) != pairs.dim(0)
        || downs.dim(1) != pairs.dim(2) || downs.dim(2) != pairs.dim(1) / 2) {
      throw new CheckpointFormatException(block + ": gate_up_proj " + pairs + " and down_proj " + downs
          + " do not unpack (expected [E, 2I, H] and [E, H, I])");
    }
    long intermediate = pairs.dim(1) / 2;
    for (long expert = 0; expert < pairs.dim(0); expert++) {
      Tensor pair = gateUp.select(expert);
      Map<String, Tensor> pieces = Map.of("down", down.select(expert), "gate", pair.slice(0, 0, intermediate),
          "up", pair.slice(0, intermediate, intermediate));
      for (String kind : PER_EXPERT_KINDS) {
        String name = block + expert + "." + kind + "_proj.weight";
        Tensor piece = pieces.get(kind);
        outInfos.add(new HfTensorInfo(name, piece.dtype(), piece.shape(),
            kind.equals("down") ? downInfo.file() : gateUpInfo.file()));
        outTensors.put(name, piece);
      }
    }
  }
}
