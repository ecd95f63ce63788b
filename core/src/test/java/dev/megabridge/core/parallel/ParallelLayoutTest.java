package dev.megabridge.core.parallel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.parallel.ParallelLayout.LayerPlacement;
import dev.megabridge.core.parallel.ParallelLayout.Rank;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Layer offsets against Megatron-core's formula, expert numbering, rank enumeration, validation messages. */
class ParallelLayoutTest {

  /**
   * Megatron-core {@code get_transformer_layer_offset} (transcribed from megatron/core/transformer/
   * transformer_layer.py): uneven first/last stages and interleaved (virtual) stages. {@code vpp == 1} means
   * no virtual pipeline ({@code virtual_pipeline_model_parallel_size is None}).
   */
  static int megatronOffset(int numLayers, int pp, int vpp, Integer first, Integer last, int rank, int vpStage) {
    if (pp == 1) {
      return 0;
    }
    if (first != null || last != null) {
      int middleStages = pp - (first != null ? 1 : 0) - (last != null ? 1 : 0);
      int firstLayers = first == null ? 0 : first;
      int lastLayers = last == null ? 0 : last;
      int middleLayers = numLayers - firstLayers - lastLayers;
      if (vpp > 1) {
        int firstChunk = first == null ? 0 : first / vpp;
        int lastChunk = last == null ? 0 : last / vpp;
        int middleChunk = middleLayers / vpp;
        int total = firstChunk + middleChunk + lastChunk;
        return rank == 0 ? vpStage * total
            : vpStage * total + firstChunk + (rank - 1) * (middleStages == 0 ? 0 : middleChunk / middleStages);
      }
      int perRank = middleStages > 0 ? middleLayers / middleStages : 0;
      int middleRank = first == null ? rank : rank - 1;
      return rank == 0 ? 0 : middleRank * perRank + firstLayers;
    }
    int perRank = numLayers / pp;
    if (vpp > 1) {
      return vpStage * (numLayers / vpp) + rank * (perRank / vpp);
    }
    return rank * perRank;
  }

  /** Megatron-core {@code get_num_layers_to_build} for one virtual chunk of a stage. */
  static int megatronLayersToBuild(int numLayers, int pp, int vpp, Integer first, Integer last, int rank) {
    if (first == null && last == null) {
      return numLayers / pp / vpp;
    }
    int middleStages = pp - (first != null ? 1 : 0) - (last != null ? 1 : 0);
    int middle = numLayers - (first == null ? 0 : first) - (last == null ? 0 : last);
    if (rank == 0 && first != null) {
      return first / vpp;
    }
    if (rank == pp - 1 && last != null) {
      return last / vpp;
    }
    return middle / middleStages / vpp;
  }

  record Config(int layers, int pp, int vpp, Integer first, Integer last) {
    ParallelLayout layout() {
      return new ParallelLayout(1, pp, vpp, 1, 1, Optional.ofNullable(first), Optional.ofNullable(last));
    }
  }

  /** Every valid (pp, vpp, first, last) for {@code layers}, found by brute force (validation itself is tested below). */
  static List<Config> validConfigs(int layers) {
    List<Config> out = new ArrayList<>();
    for (int pp = 1; pp <= 5; pp++) {
      for (int vpp = 1; vpp <= 3; vpp++) {
        for (int first = 0; first <= layers; first++) {
          for (int last = 0; last <= layers; last++) {
            Integer f = first == 0 ? null : first;
            Integer l = last == 0 ? null : last;
            if (pp == 1 && (f != null || l != null || vpp > 1)) {
              continue;
            }
            if (expectedValid(layers, pp, vpp, f, l)) {
              out.add(new Config(layers, pp, vpp, f, l));
            }
          }
        }
      }
    }
    return out;
  }

  /** Independent statement of the rule: every stage gets a positive layer count divisible by vpp, summing to L. */
  static boolean expectedValid(int layers, int pp, int vpp, Integer first, Integer last) {
    int middleStages = pp - (first != null ? 1 : 0) - (last != null ? 1 : 0);
    int middle = layers - (first == null ? 0 : first) - (last == null ? 0 : last);
    if (middle < 0 || (first != null && first % vpp != 0) || (last != null && last % vpp != 0)) {
      return false;
    }
    if (middleStages == 0) {
      return middle == 0;
    }
    return middle > 0 && middle % (middleStages * vpp) == 0;
  }

  @ParameterizedTest
  @ValueSource(ints = {12, 24, 13})
  void validationAcceptsExactlyTheSplitsThatWork(int layers) {
    for (int pp = 2; pp <= 4; pp++) {
      for (int vpp = 1; vpp <= 3; vpp++) {
        for (int first = 0; first <= layers; first++) {
          for (int last = 0; last <= layers; last += 3) {
            Integer f = first == 0 ? null : first;
            Integer l = last == 0 ? null : last;
            ParallelLayout layout = new ParallelLayout(1, pp, vpp, 1, 1, Optional.ofNullable(f), Optional.ofNullable(l));
            boolean valid = expectedValid(layers, pp, vpp, f, l);
            if (valid) {
              layout.validateLayers(layers);
            } else {
              assertThatThrownBy(() -> layout.validateLayers(layers)).as(layout.describe())
                  .isInstanceOf(LayoutException.class);
            }
          }
        }
      }
    }
  }

  @Test
  void offsetsMatchMegatronAndCoverEveryLayerOnce() {
    int checkedAgainstMegatron = 0;
    for (int layers : List.of(8, 12, 24, 30)) {
      for (Config config : validConfigs(layers)) {
        ParallelLayout layout = config.layout();
        layout.validateLayers(layers);
        // Megatron's interleaved uneven formula assumes a custom first stage; with only a custom last stage it
        // is not contiguous, so there we check the placement rule alone.
        boolean megatronApplies = !(config.vpp() > 1 && config.first() == null && config.last() != null);
        int expectedNext = 0;
        for (int chunk = 0; chunk < config.vpp(); chunk++) {
          for (int stage = 0; stage < config.pp(); stage++) {
            int offset = layout.layerOffset(stage, chunk, layers);
            int count = layout.layersPerChunk(stage, layers);
            String where = layout.describe() + " L=" + layers + " stage " + stage + " chunk " + chunk;
            if (megatronApplies) {
              assertThat(offset).as(where).isEqualTo(megatronOffset(layers, config.pp(), config.vpp(), config.first(),
                  config.last(), stage, chunk));
              checkedAgainstMegatron++;
            }
            assertThat(count).as(where).isEqualTo(megatronLayersToBuild(layers, config.pp(), config.vpp(),
                config.first(), config.last(), stage));
            // Chunk-major, stage-minor order visits the layers 0..L-1 in sequence.
            assertThat(offset).as(where).isEqualTo(expectedNext);
            expectedNext += count;
            for (int local = 0; local < count; local++) {
              assertThat(layout.placeLayer(offset + local, layers)).as(where)
                  .isEqualTo(new LayerPlacement(stage, chunk, local));
            }
          }
        }
        assertThat(expectedNext).isEqualTo(layers);
      }
    }
    assertThat(checkedAgainstMegatron).isGreaterThan(500);
  }

  @Test
  void handPickedOffsets() {
    // 24 layers, pp 4, vpp 2: chunks of 3; stage 1 chunk 1 starts at 12 + 3.
    assertThat(ParallelLayout.of(1, 4, 2, 1, 1).layerOffset(1, 1, 24)).isEqualTo(15);
    // 30 layers, pp 4, first 6, last 4: middle stages get 10 each.
    ParallelLayout uneven = new ParallelLayout(1, 4, 1, 1, 1, Optional.of(6), Optional.of(4));
    assertThat(List.of(uneven.layerOffset(0, 0, 30), uneven.layerOffset(1, 0, 30), uneven.layerOffset(2, 0, 30),
        uneven.layerOffset(3, 0, 30))).containsExactly(0, 6, 16, 26);
    assertThat(uneven.placeLayer(29, 30)).isEqualTo(new LayerPlacement(3, 0, 3));
    assertThatThrownBy(() -> uneven.placeLayer(30, 30)).isInstanceOf(LayoutException.class)
        .hasMessageContaining("layer 30");
  }

  @Test
  void expertNumbering() {
    int experts = 16;
    for (int ep : List.of(1, 2, 4, 8, 16)) {
      ParallelLayout layout = ParallelLayout.of(1, 1, 1, ep, 1);
      layout.validateExperts(experts);
      for (int p = 0; p < ep; p++) {
        for (int j = 0; j < experts / ep; j++) {
          int global = p * (experts / ep) + j; // spec §3.9
          assertThat(layout.globalExpert(p, j, experts)).isEqualTo(global);
          assertThat(layout.expertRank(global, experts)).isEqualTo(p);
          assertThat(layout.localExpert(global, experts)).isEqualTo(j);
        }
      }
    }
    assertThatThrownBy(() -> ParallelLayout.of(1, 1, 1, 3, 1).validateExperts(16)).isInstanceOf(LayoutException.class)
        .hasMessageContaining("num_experts = 16").hasMessageContaining("ep = 3");
  }

  @Test
  void ranksAndDirectories() {
    ParallelLayout layout = ParallelLayout.of(4, 2, 1, 2, 2);
    List<Rank> ranks = layout.ranks();
    assertThat(ranks).hasSize(16).isSorted().doesNotHaveDuplicates();
    assertThat(ranks.getFirst()).isEqualTo(new Rank(0, 0, 0));
    assertThat(ranks.get(5)).isEqualTo(new Rank(1, 0, 1));
    assertThat(layout.rankDirectory(new Rank(3, 1, 1))).isEqualTo("mp_rank_03_001_001");
    assertThat(ParallelLayout.of(2, 2, 1, 1, 1).rankDirectory(new Rank(1, 1, 0))).isEqualTo("mp_rank_01_001");
    assertThat(List.of(0, 1, 2, 3).stream().map(layout::expertTensorRank).toList()).containsExactly(0, 1, 0, 1);
    assertThat(ParallelLayout.of(4, 1, 1, 1, 1).expertTensorRank(3)).isZero();
    assertThat(new ParallelLayout(2, 4, 2, 8, 1, Optional.of(4), Optional.empty()).describe())
        .isEqualTo("tp2-pp4-vpp2-ep8-etp1-first4");
  }

  @Test
  void invalidLayoutsNameTheDimension() {
    assertThatThrownBy(() -> ParallelLayout.of(0, 1, 1, 1, 1)).isInstanceOf(LayoutException.class)
        .hasMessageContaining("tp");
    assertThatThrownBy(() -> ParallelLayout.of(1, 1, 1, -2, 1)).hasMessageContaining("ep");
    assertThatThrownBy(() -> ParallelLayout.of(1, 0, 1, 1, 1)).hasMessageContaining("pp");
    assertThatThrownBy(() -> ParallelLayout.of(1, 2, 0, 1, 1)).hasMessageContaining("vpp");
    assertThatThrownBy(() -> ParallelLayout.of(1, 1, 2, 1, 1)).isInstanceOf(LayoutException.class)
        .hasMessageContaining("vpp = 2").hasMessageContaining("pp > 1");
    assertThatThrownBy(() -> ParallelLayout.of(4, 1, 1, 1, 3)).isInstanceOf(LayoutException.class)
        .hasMessageContaining("etp = 3").hasMessageContaining("tp = 4");
    assertThatThrownBy(() -> new ParallelLayout(1, 1, 1, 1, 1, Optional.of(2), Optional.empty()))
        .isInstanceOf(LayoutException.class).hasMessageContaining("pp");
    assertThatThrownBy(() -> new ParallelLayout(1, 2, 1, 1, 1, Optional.of(0), Optional.empty()))
        .hasMessageContaining("first stage");
    assertThatThrownBy(() -> ParallelLayout.of(1, 3, 1, 1, 1).validateLayers(10)).isInstanceOf(LayoutException.class)
        .hasMessageContaining("num_layers = 10").hasMessageContaining("3");
    assertThatThrownBy(() -> ParallelLayout.of(1, 2, 4, 1, 1).validateLayers(12)).hasMessageContaining("vpp")
        .hasMessageContaining("num_layers");
    assertThatThrownBy(() -> new ParallelLayout(1, 3, 2, 1, 1, Optional.of(3), Optional.empty()).validateLayers(11))
        .hasMessageContaining("first stage layers = 3").hasMessageContaining("vpp = 2");
    assertThatThrownBy(() -> new ParallelLayout(1, 3, 2, 1, 1, Optional.of(2), Optional.of(3)).validateLayers(9))
        .hasMessageContaining("last stage layers = 3");
    assertThatThrownBy(() -> new ParallelLayout(1, 2, 1, 1, 1, Optional.of(5), Optional.of(5)).validateLayers(8))
        .hasMessageContaining("exceed num_layers = 8");
  }
}
