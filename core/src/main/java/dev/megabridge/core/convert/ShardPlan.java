package dev.megabridge.core.convert;

import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.parallel.ParallelLayout.LayerPlacement;
import dev.megabridge.core.parallel.ParallelLayout.Rank;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiFunction;

/**
 * Every rank's file contents for one model and layout, checked for completeness before anything is
 * written: every Megatron parameter resolves to a mapping whose HF tensors exist with the expected shapes,
 * and every HF tensor of the checkpoint is consumed. Any gap is one {@link MappingException} listing all
 * offending names.
 */
public final class ShardPlan {

  /** The file name {@link #fromConfig} gives every tensor. */
  public static final String CONFIG_ONLY_FILE = "(config only)";

  private static final int MAX_LISTED = 40;

  private final BridgeModel model;
  private final ParallelLayout layout;
  private final Map<String, HfTensorInfo> hfTensors;
  private final List<RankPlan> ranks;
  private final Map<Rank, RankPlan> byRank;

  private ShardPlan(BridgeModel model, ParallelLayout layout, Map<String, HfTensorInfo> hfTensors,
      List<RankPlan> ranks) {
    this.model = model;
    this.layout = layout;
    this.hfTensors = hfTensors;
    this.ranks = List.copyOf(ranks);
    Map<Rank, RankPlan> index = new LinkedHashMap<>();
    for (RankPlan plan : ranks) {
      index.put(plan.rank(), plan);
    }
    this.byRank = index;
  }

  /**
   * Plans {@code layout} for {@code model} over the HF tensors {@code hfTensors} (name → dtype/shape, in
   * checkpoint order).
   */
  public static ShardPlan build(BridgeModel model, ParallelLayout layout, Map<String, HfTensorInfo> hfTensors) {
    return plan(model, layout, hfTensors);
  }

  /**
   * Plans {@code layout} for a model known only from its config: every tensor the model has, in {@code dtype}
   * except those the bridge keeps in float32 by design, in one placeholder file. For sizing ranks before any
   * weight exists.
   */
  public static ShardPlan fromConfig(BridgeModel model, ParallelLayout layout, DType dtype) {
    Map<String, HfTensorInfo> infos = new LinkedHashMap<>();
    for (HfTensorSpec spec : model.hfTensors()) {
      DType tensorDtype = model.keepsFloat32(spec.name()) ? DType.F32 : dtype;
      infos.put(spec.name(), new HfTensorInfo(spec.name(), tensorDtype, spec.shape(), CONFIG_ONLY_FILE));
    }
    return plan(model, layout, infos);
  }

  private static ShardPlan plan(BridgeModel model, ParallelLayout layout, Map<String, HfTensorInfo> hfTensors) {
    model.validateLayout(layout);
    checkHfTensors(model, hfTensors);
    List<MegatronParam> params = model.megatronParams(layout);
    Map<MegatronParam, ParamMapping> mappings = resolveAll(model, params, hfTensors);
    List<RankPlan> rankPlans = new ArrayList<>();
    for (Rank rank : layout.ranks()) {
      List<ShardEntry> entries = new ArrayList<>();
      for (MegatronParam param : params) {
        if (!holds(layout, model, param, rank)) {
          continue;
        }
        ParamMapping mapping = mappings.get(param);
        boolean expert = mapping.isExpert();
        int splitSize = expert ? layout.etp() : layout.tp();
        int splitRank = expert ? layout.expertTensorRank(rank.tp()) : rank.tp();
        Map<String, Shape> shapes = new LinkedHashMap<>();
        DType dtype = null;
        for (Map.Entry<String, String> role : mapping.hfParams().entrySet()) {
          HfTensorInfo info = hfTensors.get(role.getValue());
          shapes.put(role.getKey(), info.shape());
          if (dtype != null && dtype != info.dtype()) {
            throw new ShapeMismatchException(param.name() + ": its HF tensors have different dtypes ("
                + mapping.hfParams().values() + "), cannot be merged into one Megatron tensor");
          }
          dtype = info.dtype();
        }
        Shape shape = mapping.megatronShape(shapes, splitSize, splitRank);
        entries.add(new ShardEntry(localName(layout, model, param), param, mapping, splitSize, splitRank, dtype,
            shape));
      }
      rankPlans.add(new RankPlan(rank, layout.rankDirectory(rank), entries));
    }
    return new ShardPlan(model, layout, hfTensors, rankPlans);
  }

  private static void checkHfTensors(BridgeModel model, Map<String, HfTensorInfo> hfTensors) {
    Map<String, HfTensorSpec> expected = new LinkedHashMap<>();
    for (HfTensorSpec spec : model.hfTensors()) {
      expected.put(spec.name(), spec);
    }
    List<String> missing = new ArrayList<>();
    List<String> unexpected = new ArrayList<>();
    List<String> wrongShape = new ArrayList<>();
    for (HfTensorSpec spec : expected.values()) {
      HfTensorInfo info = hfTensors.get(spec.name());
      if (info == null) {
        missing.add(spec.name());
      } else if (!info.shape().equals(spec.shape())) {
        wrongShape.add(spec.name() + " in " + info.file() + ": expected " + spec.shape() + ", got " + info.shape());
      }
    }
    for (HfTensorInfo info : hfTensors.values()) {
      if (!expected.containsKey(info.name())) {
        unexpected.add(info.name() + " (in " + info.file() + ")");
      }
    }
    StringBuilder message = new StringBuilder();
    appendList(message, "tensors the model needs but the checkpoint lacks", missing);
    appendList(message, "tensors the checkpoint holds that no mapping accounts for", unexpected);
    appendList(message, "tensors with the wrong shape", wrongShape);
    if (!message.isEmpty()) {
      throw new MappingException(model.architecture() + " checkpoint does not match its config:" + message);
    }
  }

  private static Map<MegatronParam, ParamMapping> resolveAll(BridgeModel model, List<MegatronParam> params,
      Map<String, HfTensorInfo> hfTensors) {
    Map<MegatronParam, ParamMapping> out = new LinkedHashMap<>();
    List<String> unmapped = new ArrayList<>();
    List<String> dangling = new ArrayList<>();
    Set<String> consumed = new HashSet<>();
    for (MegatronParam param : params) {
      var mapping = model.registry().megatronToHf(param.mappingName());
      if (mapping.isEmpty()) {
        unmapped.add(param.name());
        continue;
      }
      for (String hfName : mapping.get().hfParams().values()) {
        if (!hfTensors.containsKey(hfName)) {
          dangling.add(param.name() + " → " + hfName);
        }
        consumed.add(hfName);
      }
      out.put(param, mapping.get());
    }
    List<String> unconsumed = new ArrayList<>();
    for (String name : hfTensors.keySet()) {
      if (!consumed.contains(name)) {
        unconsumed.add(name);
      }
    }
    StringBuilder message = new StringBuilder();
    appendList(message, "Megatron parameters without a mapping", unmapped);
    appendList(message, "Megatron parameters mapped to HF tensors that do not exist", dangling);
    appendList(message, "HF tensors no Megatron parameter consumes", unconsumed);
    if (!message.isEmpty()) {
      throw new MappingException(model.architecture() + ": mapping is incomplete:" + message);
    }
    return out;
  }

  private static void appendList(StringBuilder message, String title, List<String> names) {
    if (names.isEmpty()) {
      return;
    }
    message.append("\n  ").append(names.size()).append(' ').append(title).append(':');
    for (String name : names.subList(0, Math.min(MAX_LISTED, names.size()))) {
      message.append("\n    ").append(name);
    }
    if (names.size() > MAX_LISTED) {
      message.append("\n    ... and ").append(names.size() - MAX_LISTED).append(" more");
    }
  }

  /** Pipeline stage holding {@code param}. */
  static int stageOf(ParallelLayout layout, BridgeModel model, MegatronParam param) {
    return switch (param.placement()) {
      case FIRST_STAGE -> 0;
      case LAST_STAGE -> layout.pp() - 1;
      case DECODER_LAYER -> layout.placeLayer(param.layer(), model.numLayers()).stage();
    };
  }

  private static boolean holds(ParallelLayout layout, BridgeModel model, MegatronParam param, Rank rank) {
    if (stageOf(layout, model, param) != rank.pp()) {
      return false;
    }
    return param.expert() < 0 || layout.expertRank(param.expert(), model.numExperts()) == rank.ep();
  }

  /**
   * The name Megatron's module on that rank gives the parameter: stage-local layer number, local expert
   * number, and with virtual pipelining the chunk prefix {@code model<chunk>.} (the legacy checkpoint's
   * per-chunk state-dict keys).
   */
  public static String localName(ParallelLayout layout, BridgeModel model, MegatronParam param) {
    String name = param.name();
    int chunk = switch (param.placement()) {
      case FIRST_STAGE -> 0;
      case LAST_STAGE -> layout.vpp() - 1;
      case DECODER_LAYER -> {
        LayerPlacement placement = layout.placeLayer(param.layer(), model.numLayers());
        String global = "decoder.layers." + param.layer() + ".";
        int at = name.indexOf(global);
        name = name.substring(0, at) + "decoder.layers." + placement.localIndex() + "."
            + name.substring(at + global.length());
        yield placement.chunk();
      }
    };
    if (param.expert() >= 0) {
      // The expert number sits either in a SequentialMLP path segment or at the end of a TEGroupedMLP name.
      int local = layout.localExpert(param.expert(), model.numExperts());
      String sequential = ".local_experts." + param.expert() + ".";
      String grouped = String.valueOf(param.expert());
      int at = name.indexOf(sequential);
      if (at >= 0) {
        name = name.substring(0, at) + ".local_experts." + local + "." + name.substring(at + sequential.length());
      } else if (name.endsWith(grouped)) {
        name = name.substring(0, name.length() - grouped.length()) + local;
      } else {
        throw new MappingException(param.name() + ": expert parameter " + param.expert() + " without its expert number");
      }
    }
    return layout.vpp() > 1 ? "model" + chunk + "." + name : name;
  }

  public BridgeModel model() {
    return model;
  }

  public ParallelLayout layout() {
    return layout;
  }

  public Map<String, HfTensorInfo> hfTensors() {
    return hfTensors;
  }

  public List<RankPlan> ranks() {
    return ranks;
  }

  public RankPlan rank(Rank rank) {
    return byRank.get(rank);
  }

  public long totalBytes() {
    return ranks.stream().mapToLong(RankPlan::byteSize).sum();
  }

  /**
   * For an owned parameter: the file ranks whose shards, in split-rank order, rebuild it — TP ranks
   * 0..tp-1 (ETP ranks 0..etp-1 for experts) of its stage and (for experts) its EP rank.
   */
  public List<Rank> gatherRanks(MegatronParam param, boolean expert) {
    int stage = stageOf(layout, model, param);
    int expertRank = param.expert() >= 0 ? layout.expertRank(param.expert(), model.numExperts()) : 0;
    int splitSize = expert ? layout.etp() : layout.tp();
    List<Rank> out = new ArrayList<>(splitSize);
    for (int tensorRank = 0; tensorRank < splitSize; tensorRank++) {
      out.add(new Rank(tensorRank, stage, expertRank));
    }
    return out;
  }

  /** Distinct owned (non-copy) parameters with their mappings, in plan order. */
  public Map<MegatronParam, ParamMapping> ownedParams() {
    Map<MegatronParam, ParamMapping> out = new LinkedHashMap<>();
    Set<String> seen = new LinkedHashSet<>();
    for (RankPlan plan : ranks) {
      for (ShardEntry entry : plan.entries()) {
        if (!entry.param().copy() && seen.add(entry.param().name())) {
          out.put(entry.param(), entry.mapping());
        }
      }
    }
    return out;
  }

  /**
   * The gather step, the inverse of each entry's cut ({@link ShardEntry}): every HF tensor produced by the owned
   * parameters of this plan, lazily. {@code shards} gives a parameter's (with its mapping) shards in split-rank order
   * (one full tensor for an unsplit layout), each mapping rebuilds its HF tensors, and packed experts are stacked from
   * all experts of a layer. Unordered beyond plan order.
   */
  public Map<String, Tensor> gatherHf(BiFunction<MegatronParam, ParamMapping, List<Tensor>> shards) {
    Map<String, Tensor> produced = new LinkedHashMap<>();
    Map<String, TreeMap<Integer, Tensor>> grouped = new LinkedHashMap<>();
    for (Map.Entry<MegatronParam, ParamMapping> owned : ownedParams().entrySet()) {
      MegatronParam param = owned.getKey();
      ParamMapping mapping = owned.getValue();
      Map<String, Tensor> byRole = mapping.toHf(shards.apply(param, mapping));
      for (Map.Entry<String, Tensor> role : byRole.entrySet()) {
        String hfName = mapping.hfParams().get(role.getKey());
        if (mapping.isGroupedExport()) {
          Tensor previous = grouped.computeIfAbsent(hfName, name -> new TreeMap<>()).put(param.expert(), role.getValue());
          if (previous != null) {
            throw new MappingException(hfName + ": expert " + param.expert() + " produced twice");
          }
        } else if (produced.put(hfName, role.getValue()) != null) {
          throw new MappingException(hfName + " is produced by more than one Megatron parameter (last: "
              + param.name() + ")");
        }
      }
    }
    for (Map.Entry<String, TreeMap<Integer, Tensor>> group : grouped.entrySet()) {
      TreeMap<Integer, Tensor> experts = group.getValue();
      if (experts.size() != model().numExperts() || experts.firstKey() != 0
          || experts.lastKey() != model().numExperts() - 1) {
        throw new MappingException(group.getKey() + ": have experts " + experts.keySet() + ", need 0.."
            + (model().numExperts() - 1));
      }
      produced.put(group.getKey(), Tensor.stack(List.copyOf(experts.values())));
    }
    return produced;
  }
}
