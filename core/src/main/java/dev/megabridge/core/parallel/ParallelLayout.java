package dev.megabridge.core.parallel;

import dev.megabridge.core.error.LayoutException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A Megatron model-parallel layout: tensor (tp), pipeline (pp), virtual pipeline (vpp, chunks per stage),
 * expert (ep) and expert-tensor (etp) parallel sizes, and optional layer counts of the first and last
 * pipeline stage. Layer and expert numbering follow Megatron-core ({@code get_transformer_layer_offset},
 * global expert = ep_rank · E/ep + local).
 *
 * <p>Files hold one (tp, pp, ep) rank each; the expert shards in a file belong to ETP rank {@code tp mod etp}
 * (etp must divide tp), matching Megatron's rank order where the expert-tensor group is the innermost.
 */
public record ParallelLayout(int tp, int pp, int vpp, int ep, int etp, Optional<Integer> firstStageLayers,
    Optional<Integer> lastStageLayers) {

  public ParallelLayout {
    positive("tp", tp);
    positive("pp", pp);
    positive("vpp", vpp);
    positive("ep", ep);
    positive("etp", etp);
    if (tp % etp != 0) {
      throw new LayoutException("etp = " + etp + " must divide tp = " + tp);
    }
    if (vpp > 1 && pp == 1) {
      // Megatron-LM: the interleaved (virtual pipeline) schedule needs pipeline parallelism.
      throw new LayoutException("vpp = " + vpp + " needs pp > 1 (virtual pipeline stages interleave pipeline stages)");
    }
    if ((firstStageLayers.isPresent() || lastStageLayers.isPresent()) && pp == 1) {
      throw new LayoutException("--pp-first-stage-layers/--pp-last-stage-layers need pp > 1");
    }
    firstStageLayers.ifPresent(layers -> positive("pp first stage layers", layers));
    lastStageLayers.ifPresent(layers -> positive("pp last stage layers", layers));
  }

  public static ParallelLayout single() {
    return of(1, 1, 1, 1, 1);
  }

  public static ParallelLayout of(int tp, int pp, int vpp, int ep, int etp) {
    return new ParallelLayout(tp, pp, vpp, ep, etp, Optional.empty(), Optional.empty());
  }

  private static void positive(String name, int value) {
    if (value <= 0) {
      throw new LayoutException(name + " must be positive, got " + value);
    }
  }

  /** One file's rank coordinates. */
  public record Rank(int tp, int pp, int ep) implements Comparable<Rank> {
    @Override
    public int compareTo(Rank other) {
      int byPp = Integer.compare(pp, other.pp);
      if (byPp != 0) {
        return byPp;
      }
      int byEp = Integer.compare(ep, other.ep);
      return byEp != 0 ? byEp : Integer.compare(tp, other.tp);
    }
  }

  /** Where one global decoder layer lives. */
  public record LayerPlacement(int stage, int chunk, int localIndex) {}

  /** All (tp, pp, ep) file ranks, pp-major then ep then tp. */
  public List<Rank> ranks() {
    List<Rank> out = new ArrayList<>();
    for (int stage = 0; stage < pp; stage++) {
      for (int expertRank = 0; expertRank < ep; expertRank++) {
        for (int tensorRank = 0; tensorRank < tp; tensorRank++) {
          out.add(new Rank(tensorRank, stage, expertRank));
        }
      }
    }
    return out;
  }

  /** Folder name of a rank: {@code mp_rank_<tp:02>_<pp:03>[_<ep:03>]} (the EP part only when ep > 1). */
  public String rankDirectory(Rank rank) {
    return ep > 1 ? String.format("mp_rank_%02d_%03d_%03d", rank.tp(), rank.pp(), rank.ep())
        : String.format("mp_rank_%02d_%03d", rank.tp(), rank.pp());
  }

  /** ETP rank of the expert shards held by file rank {@code tensorRank}. */
  public int expertTensorRank(int tensorRank) {
    return tensorRank % etp;
  }

  /**
   * Checks the pipeline split for {@code numLayers} decoder layers; errors name the dimension.
   */
  public void validateLayers(int numLayers) {
    int stages = pp;
    int middleLayers = numLayers - firstStageLayers.orElse(0) - lastStageLayers.orElse(0);
    int middleStages = stages - (firstStageLayers.isPresent() ? 1 : 0) - (lastStageLayers.isPresent() ? 1 : 0);
    if (middleLayers < 0) {
      throw new LayoutException("first/last pipeline stage layers (" + firstStageLayers.orElse(0) + " + "
          + lastStageLayers.orElse(0) + ") exceed num_layers = " + numLayers);
    }
    if (middleStages == 0 && middleLayers != 0) {
      throw new LayoutException("pp = " + pp + ": first/last stage layers leave " + middleLayers
          + " layers but no middle stage");
    }
    if (middleStages > 0 && middleLayers % (middleStages * vpp) != 0) {
      throw new LayoutException("num_layers = " + numLayers + " (" + middleLayers + " outside the first/last stage) "
          + "is not divisible by pp × vpp = " + middleStages + " × " + vpp);
    }
    if (middleStages > 0 && middleLayers == 0) {
      throw new LayoutException("pp = " + pp + " leaves middle pipeline stages without layers");
    }
    firstStageLayers.ifPresent(layers -> {
      if (layers % vpp != 0) {
        throw new LayoutException("pp first stage layers = " + layers + " is not divisible by vpp = " + vpp);
      }
    });
    lastStageLayers.ifPresent(layers -> {
      if (layers % vpp != 0) {
        throw new LayoutException("pp last stage layers = " + layers + " is not divisible by vpp = " + vpp);
      }
    });
  }

  /** Layers in virtual chunk {@code chunk} of stage {@code stage} (the same for every chunk of a stage). */
  public int layersPerChunk(int stage, int numLayers) {
    int middleLayers = numLayers - firstStageLayers.orElse(0) - lastStageLayers.orElse(0);
    int middleStages = pp - (firstStageLayers.isPresent() ? 1 : 0) - (lastStageLayers.isPresent() ? 1 : 0);
    if (stage == 0 && firstStageLayers.isPresent()) {
      return firstStageLayers.get() / vpp;
    }
    if (stage == pp - 1 && lastStageLayers.isPresent()) {
      return lastStageLayers.get() / vpp;
    }
    return middleLayers / middleStages / vpp;
  }

  /**
   * Global index of the first layer of (stage, chunk): chunk · (layers of one virtual round) + the layers of
   * earlier stages in that round — Megatron's offset formula, uneven first/last stages included.
   */
  public int layerOffset(int stage, int chunk, int numLayers) {
    int round = 0;
    int before = 0;
    for (int other = 0; other < pp; other++) {
      int layers = layersPerChunk(other, numLayers);
      round += layers;
      if (other < stage) {
        before += layers;
      }
    }
    return chunk * round + before;
  }

  /** Stage, chunk and stage-local index of global layer {@code layer}. */
  public LayerPlacement placeLayer(int layer, int numLayers) {
    for (int chunk = 0; chunk < vpp; chunk++) {
      for (int stage = 0; stage < pp; stage++) {
        int offset = layerOffset(stage, chunk, numLayers);
        int count = layersPerChunk(stage, numLayers);
        if (layer >= offset && layer < offset + count) {
          return new LayerPlacement(stage, chunk, layer - offset);
        }
      }
    }
    throw new LayoutException("layer " + layer + " is outside num_layers = " + numLayers);
  }

  /** Checks that {@code numExperts} experts split over ep. */
  public void validateExperts(int numExperts) {
    if (numExperts % ep != 0) {
      throw new LayoutException("num_experts = " + numExperts + " is not divisible by ep = " + ep);
    }
  }

  public int expertRank(int globalExpert, int numExperts) {
    return globalExpert / (numExperts / ep);
  }

  public int localExpert(int globalExpert, int numExperts) {
    return globalExpert % (numExperts / ep);
  }

  public int globalExpert(int expertRank, int localExpert, int numExperts) {
    return expertRank * (numExperts / ep) + localExpert;
  }

  /** Compact text form, e.g. {@code tp2-pp2-vpp1-ep4-etp1}. */
  public String describe() {
    return "tp" + tp + "-pp" + pp + "-vpp" + vpp + "-ep" + ep + "-etp" + etp
        + firstStageLayers.map(layers -> "-first" + layers).orElse("")
        + lastStageLayers.map(layers -> "-last" + layers).orElse("");
  }

  /** This layout as Megatron model provider fields (Megatron-core TransformerConfig names), in provider order. */
  public Map<String, Object> providerFields() {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("tensor_model_parallel_size", tp);
    fields.put("pipeline_model_parallel_size", pp);
    fields.put("virtual_pipeline_model_parallel_size", vpp > 1 ? vpp : null);
    fields.put("expert_model_parallel_size", ep);
    fields.put("expert_tensor_parallel_size", etp);
    firstStageLayers.ifPresent(layers -> fields.put("num_layers_in_first_pipeline_stage", layers));
    lastStageLayers.ifPresent(layers -> fields.put("num_layers_in_last_pipeline_stage", layers));
    return fields;
  }

  /** This layout as Megatron-LM command-line arguments. */
  public List<String> megatronArguments() {
    List<String> arguments = new ArrayList<>(List.of("--tensor-model-parallel-size", Integer.toString(tp),
        "--pipeline-model-parallel-size", Integer.toString(pp)));
    if (vpp > 1) {
      arguments.addAll(List.of("--num-virtual-stages-per-pipeline-rank", Integer.toString(vpp)));
    }
    arguments.addAll(List.of("--expert-model-parallel-size", Integer.toString(ep), "--expert-tensor-parallel-size",
        Integer.toString(etp)));
    firstStageLayers.ifPresent(layers -> arguments.addAll(List.of("--decoder-first-pipeline-num-layers",
        Integer.toString(layers))));
    lastStageLayers.ifPresent(layers -> arguments.addAll(List.of("--decoder-last-pipeline-num-layers",
        Integer.toString(layers))));
    return arguments;
  }
}
