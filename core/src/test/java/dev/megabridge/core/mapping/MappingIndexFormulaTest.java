package dev.megabridge.core.mapping;

import static dev.megabridge.core.mapping.TestTensors.ROLE_STRIDE;
import static dev.megabridge.core.mapping.TestTensors.indexed;
import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.mapping.PackedExpertMapping.Projection;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every element of every rank's shard equals the HF element that the closed forms of
 * megatron-bridge-spec §3.2–§3.11 name. HF tensors hold distinct values (role base + flat index), and the
 * expected source of each local element is computed here from the spec formula, never by the code under test.
 */
class MappingIndexFormulaTest {

  /** Where a local element comes from: role number (0.. in role order) and flat index inside that HF tensor. */
  record Source(int role, long flatIndex) {}

  /** Maps (local row, local column over the flattened trailing dims) to its HF source. */
  @FunctionalInterface
  interface Formula {
    Source at(long row, long col);
  }

  private static void assertShard(Tensor shard, Shape expectedShape, Formula formula) {
    assertThat(shard.shape()).isEqualTo(expectedShape);
    float[] values = shard.toFloatArray();
    long rows = expectedShape.dim(0);
    long cols = rows == 0 ? 0 : values.length / rows;
    for (long row = 0; row < rows; row++) {
      for (long col = 0; col < cols; col++) {
        Source source = formula.at(row, col);
        float expected = source.role() * ROLE_STRIDE + source.flatIndex();
        float actual = values[(int) (row * cols + col)];
        if (actual != expected) {
          throw new AssertionError("local [" + row + ", " + col + "]: expected role " + source.role() + " element "
              + source.flatIndex() + " (" + expected + "), got " + actual);
        }
      }
    }
  }

  private static Map<String, Tensor> roles(Object... roleAndTensor) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int index = 0; index < roleAndTensor.length; index += 2) {
      out.put((String) roleAndTensor[index], (Tensor) roleAndTensor[index + 1]);
    }
    return out;
  }

  // ---- §3.2 column, §3.3 row -----------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void columnTakesContiguousRowBlocks(int t) {
    long rows = 24;
    long cols = 5;
    ColumnMapping mapping = new ColumnMapping("m.weight", "h.weight");
    Tensor hf = indexed(0, rows, cols);
    Tensor bias = indexed(0, rows);
    for (int r = 0; r < t; r++) {
      long perRank = rows / t;
      int rank = r;
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, hf), t, r), Shape.of(perRank, cols),
          (row, col) -> new Source(0, (rank * perRank + row) * cols + col));
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, bias), t, r), Shape.of(perRank),
          (row, col) -> new Source(0, rank * perRank + row));
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void rowTakesContiguousColumnBlocksAndReplicatesBiases(int t) {
    long rows = 3;
    long cols = 16;
    RowMapping mapping = new RowMapping("m.weight", "h.weight");
    Tensor hf = indexed(0, rows, cols);
    Tensor bias = indexed(0, rows);
    for (int r = 0; r < t; r++) {
      long perRank = cols / t;
      int rank = r;
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, hf), t, r), Shape.of(rows, perRank),
          (row, col) -> new Source(0, row * cols + rank * perRank + col));
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, bias), t, r), Shape.of(rows),
          (row, col) -> new Source(0, row));
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void replicatedIsTheWholeTensorOnEveryRank(int t) {
    ReplicatedMapping mapping = new ReplicatedMapping("m.weight", "h.weight");
    Tensor hf = indexed(0, 6, 4);
    for (int r = 0; r < t; r++) {
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, hf), t, r), Shape.of(6, 4),
          (row, col) -> new Source(0, row * 4 + col));
    }
  }

  // ---- §3.5 gated QKV --------------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void gatedQkvFollowsTheGroupInterleave(int t) {
    int nh = 16;
    int ng = 8;
    int hd = 3;
    long hidden = 5;
    int hpg = nh / ng;
    long groupRows = (2L * hpg + 2) * hd;
    GatedQkvMapping mapping = new GatedQkvMapping("m.qkv", "h.q", "h.k", "h.v", nh, ng, hd);
    Map<String, Tensor> hf = roles(GatedQkvMapping.Q, indexed(0, 2L * nh * hd, hidden),
        GatedQkvMapping.K, indexed(ROLE_STRIDE, (long) ng * hd, hidden),
        GatedQkvMapping.V, indexed(2 * ROLE_STRIDE, (long) ng * hd, hidden));
    long perRank = ng * groupRows / t;
    for (int r = 0; r < t; r++) {
      int rank = r;
      assertShard(mapping.toMegatron(hf, t, r), Shape.of(perRank, hidden), (row, col) -> {
        long full = rank * perRank + row;
        long g = full / groupRows;
        long w = full % groupRows;
        if (w < (long) hpg * hd) {
          long h = g * hpg + w / hd;
          return new Source(0, (h * 2 * hd + w % hd) * hidden + col);
        }
        if (w < 2L * hpg * hd) {
          long h = g * hpg + (w - (long) hpg * hd) / hd;
          return new Source(0, (h * 2 * hd + hd + w % hd) * hidden + col);
        }
        if (w < (2L * hpg + 1) * hd) {
          return new Source(1, (g * hd + w - 2L * hpg * hd) * hidden + col);
        }
        return new Source(2, (g * hd + w - (2L * hpg + 1) * hd) * hidden + col);
      });
    }
  }

  // ---- §3.6 vision QKV --------------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void visionQkvInterleavesHeads(int t) {
    int nh = 8;
    int hd = 3;
    long hiddenV = (long) nh * hd;
    long in = 4;
    VisionQkvMapping mapping = new VisionQkvMapping("m.qkv", "h.qkv", nh, hd);
    Tensor weight = indexed(0, 3 * hiddenV, in);
    Tensor bias = indexed(0, 3 * hiddenV);
    long perRank = 3 * hiddenV / t;
    for (int r = 0; r < t; r++) {
      int rank = r;
      Formula rowSource = (row, col) -> {
        long full = rank * perRank + row;
        long h = full / (3L * hd);
        long j = full % (3L * hd) / hd;
        long d = full % hd;
        return new Source(0, j * hiddenV + h * hd + d);
      };
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, weight), t, r), Shape.of(perRank, in),
          (row, col) -> new Source(0, rowSource.at(row, 0).flatIndex() * in + col));
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, bias), t, r), Shape.of(perRank), rowSource);
    }
  }

  // ---- §3.7 gated MLP --------------------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void gatedMlpConcatenatesGateAndUpParts(int t) {
    long f = 16;
    long in = 3;
    GatedMlpMapping mapping = new GatedMlpMapping("m.fc1", "h.gate", "h.up");
    Map<String, Tensor> hf = roles(GatedMlpMapping.GATE, indexed(0, f, in), GatedMlpMapping.UP,
        indexed(ROLE_STRIDE, f, in));
    long part = f / t;
    for (int r = 0; r < t; r++) {
      int rank = r;
      assertShard(mapping.toMegatron(hf, t, r), Shape.of(2 * part, in), (row, col) -> row < part
          ? new Source(0, (rank * part + row) * in + col)
          : new Source(1, (rank * part + row - part) * in + col));
    }
  }

  // ---- §3.8 GDN in_proj, conv1d, out_norm ------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void gdnInProjIsRankMajorQkvzba(int t) {
    int nk = 8;
    int nv = 16;
    int dk = 2;
    int dv = 3;
    long hidden = 3;
    long qk = (long) nk * dk;
    long vd = (long) nv * dv;
    GdnInProjMapping mapping = new GdnInProjMapping("m.in_proj", "h.qkv", "h.z", "h.b", "h.a",
        new GdnHeads(nk, nv, dk, dv));
    Map<String, Tensor> hf = roles(GdnInProjMapping.QKV, indexed(0, 2 * qk + vd, hidden),
        GdnInProjMapping.Z, indexed(ROLE_STRIDE, vd, hidden), GdnInProjMapping.B, indexed(2 * ROLE_STRIDE, nv, hidden),
        GdnInProjMapping.A, indexed(3 * ROLE_STRIDE, nv, hidden));
    // Spec §3.8 table: blocks q, k, v, z, beta, alpha with these sizes and source (role, first HF row).
    long[] sizes = {qk / t, qk / t, vd / t, vd / t, nv / t, nv / t};
    for (int r = 0; r < t; r++) {
      long[][] sources = {
          {0, r * qk / t}, {0, qk + r * qk / t}, {0, 2 * qk + r * vd / t},
          {1, r * vd / t}, {2, (long) r * nv / t}, {3, (long) r * nv / t}};
      long total = java.util.Arrays.stream(sizes).sum();
      assertShard(mapping.toMegatron(hf, t, r), Shape.of(total, hidden), (row, col) -> {
        long start = 0;
        for (int block = 0; block < sizes.length; block++) {
          if (row < start + sizes[block]) {
            return new Source((int) sources[block][0], (sources[block][1] + row - start) * hidden + col);
          }
          start += sizes[block];
        }
        throw new AssertionError("row " + row + " beyond the blocks");
      });
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4, 8})
  void gdnConv1dIsRankMajorQkv(int t) {
    int nk = 8;
    int nv = 16;
    int dk = 2;
    int dv = 3;
    long kernel = 4;
    long qk = (long) nk * dk;
    long vd = (long) nv * dv;
    GdnConv1dMapping mapping = new GdnConv1dMapping("m.conv1d.weight", "h.conv1d.weight",
        new GdnHeads(nk, nv, dk, dv));
    Tensor conv = indexed(0, 2 * qk + vd, 1, kernel);
    Tensor bias = indexed(0, 2 * qk + vd);
    long[] sizes = {qk / t, qk / t, vd / t};
    for (int r = 0; r < t; r++) {
      long[] firstRows = {r * qk / t, qk + r * qk / t, 2 * qk + r * vd / t};
      Formula rows = (row, col) -> {
        long start = 0;
        for (int block = 0; block < sizes.length; block++) {
          if (row < start + sizes[block]) {
            return new Source(0, firstRows[block] + row - start);
          }
          start += sizes[block];
        }
        throw new AssertionError("row " + row + " beyond the blocks");
      };
      long local = sizes[0] + sizes[1] + sizes[2];
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, conv), t, r), Shape.of(local, 1, kernel),
          (row, col) -> new Source(0, rows.at(row, 0).flatIndex() * kernel + col));
      assertShard(mapping.toMegatron(Map.of(ParamMapping.TENSOR, bias), t, r), Shape.of(local), rows);
    }
  }

  // ---- §3.9–§3.11 experts: EP selects the global expert, ETP splits it -------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4})
  void packedExpertsSelectTheGlobalExpertAndSplitByEtp(int ep) {
    int experts = 8;
    long ie = 8;
    long hidden = 3;
    Tensor gateUp = indexed(0, experts, 2 * ie, hidden);
    Tensor down = indexed(0, experts, hidden, ie);
    MappingRegistry registry = MappingRegistry.of(
        new PackedExpertMapping("d.layers.*.experts.linear_fc1.weight*", "h.layers.*.experts.gate_up_proj",
            Projection.GATE_UP),
        new PackedExpertMapping("d.layers.*.experts.linear_fc2.weight*", "h.layers.*.experts.down_proj",
            Projection.DOWN));
    for (int s : List.of(1, 2)) {
      for (int p = 0; p < ep; p++) {
        for (int j = 0; j < experts / ep; j++) {
          long e = (long) p * (experts / ep) + j; // spec §3.9: global = p·(E/e) + j
          ParamMapping fc1 = registry.megatronToHf("d.layers.3.experts.linear_fc1.weight" + e).orElseThrow();
          ParamMapping fc2 = registry.megatronToHf("d.layers.3.experts.linear_fc2.weight" + e).orElseThrow();
          assertThat(fc1.hfParams()).containsExactly(Map.entry(ParamMapping.TENSOR, "h.layers.3.experts.gate_up_proj"));
          assertThat(fc1.isExpert()).isTrue();
          long part = ie / s;
          for (int q = 0; q < s; q++) {
            int etpRank = q;
            assertShard(fc1.toMegatron(Map.of(ParamMapping.TENSOR, gateUp), s, q), Shape.of(2 * part, hidden),
                (row, col) -> {
                  long hfRow = row < part ? etpRank * part + row : ie + etpRank * part + row - part;
                  return new Source(0, (e * 2 * ie + hfRow) * hidden + col);
                });
            assertShard(fc2.toMegatron(Map.of(ParamMapping.TENSOR, down), s, q), Shape.of(hidden, part),
                (row, col) -> new Source(0, e * hidden * ie + row * ie + etpRank * part + col));
          }
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4})
  void perExpertMappingsReadTheGlobalExpertTensors(int ep) {
    int experts = 4;
    long ie = 8;
    long hidden = 3;
    MappingRegistry registry = MappingRegistry.of(
        new GatedMlpMapping("d.layers.*.experts.linear_fc1.weight*", "h.layers.*.experts.*.gate_proj.weight",
            "h.layers.*.experts.*.up_proj.weight"),
        new RowMapping("d.layers.*.experts.linear_fc2.weight*", "h.layers.*.experts.*.down_proj.weight"));
    for (int p = 0; p < ep; p++) {
      for (int j = 0; j < experts / ep; j++) {
        long e = (long) p * (experts / ep) + j;
        ParamMapping fc1 = registry.megatronToHf("d.layers.1.experts.linear_fc1.weight" + e).orElseThrow();
        ParamMapping fc2 = registry.megatronToHf("d.layers.1.experts.linear_fc2.weight" + e).orElseThrow();
        assertThat(fc1.hfParams().values()).containsExactly("h.layers.1.experts." + e + ".gate_proj.weight",
            "h.layers.1.experts." + e + ".up_proj.weight");
        assertThat(fc2.hfParams().values()).containsExactly("h.layers.1.experts." + e + ".down_proj.weight");
        for (int s : List.of(1, 2)) {
          long part = ie / s;
          Map<String, Tensor> hf = roles(GatedMlpMapping.GATE, indexed(0, ie, hidden), GatedMlpMapping.UP,
              indexed(ROLE_STRIDE, ie, hidden));
          for (int q = 0; q < s; q++) {
            int etpRank = q;
            assertShard(fc1.toMegatron(hf, s, q), Shape.of(2 * part, hidden), (row, col) -> row < part
                ? new Source(0, (etpRank * part + row) * hidden + col)
                : new Source(1, (etpRank * part + row - part) * hidden + col));
            assertShard(fc2.toMegatron(Map.of(ParamMapping.TENSOR, indexed(0, hidden, ie)), s, q),
                Shape.of(hidden, part), (row, col) -> new Source(0, row * ie + etpRank * part + col));
          }
        }
      }
    }
  }
}
