package dev.megabridge.core.convert;

import static dev.megabridge.core.report.ReportsTest.keys;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.convert.WeightDiff.Status;
import dev.megabridge.core.convert.WeightDiff.TensorDiff;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.quant.TensorParallelReport;
import dev.megabridge.core.report.ReportJson;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The reports of roundtrip, verify --weights, stream-export and inspect: their lines and their JSON keys. */
class ReportRecordsTest {

  @Test
  void roundTripReportsFp8CountsOnlyForAnFp8Source() {
    RoundTrip.Summary plain = new RoundTrip.Summary(Path.of("/m"), "Arch", "tp2-pp1-vpp1-ep1-etp2", "slime", 2, 10,
        2048, 1.234, 0.5, true, List.of(), null);
    assertThat(keys(ReportJson.tree(plain))).containsExactly("source", "architecture", "layout", "schema", "ranks",
        "tensors", "bytes", "import_seconds", "export_seconds", "identical", "differences");
    assertThat(plain.describe()).isEqualTo("""
        source: /m
        architecture: Arch
        layout: tp2-pp1-vpp1-ep1-etp2
        schema: slime
        ranks: 2
        tensors: 10
        bytes: 2.0 KiB (2048)
        import_seconds: 1.23 s
        export_seconds: 0.50 s
        identical: true
        differences: none""");
    RoundTrip.Summary fp8 = new RoundTrip.Summary(Path.of("/m"), "Arch", "l", "s", 1, 1, 1, 1, 1, false,
        List.of("a: differs"), new RoundTrip.Fp8Requantized(8, 7, 2, 2));
    JsonNode json = ReportJson.tree(fp8);
    assertThat(keys(json.get("fp8_requantized"))).containsExactly("codes", "codes_identical", "scales",
        "scales_identical");
    assertThat(fp8.describe()).contains("\ndifferences: [a: differs]\nfp8_requantized:\n  codes: 8\n");
  }

  @Test
  void weightComparisonListsTwentyDifferencesAndCountsTheRest() {
    List<TensorDiff> differences = IntStream.range(0, 21).mapToObj(index -> new TensorDiff("t" + index,
        Status.DIFFERENT, "F32[2]", "BF16[2]", 2, 1, 0.5)).toList();
    WeightComparison report = new WeightComparison(Path.of("a"), Path.of("b"), 30, 9, 21, 0, 0, 0, 4096, 0.25,
        differences);
    String[] lines = report.describe().split("\n");
    assertThat(lines).hasSize(22);
    assertThat(lines[0]).isEqualTo("30 tensors: 9 identical, 21 different, 0 only in a, 0 only in b, 0 of another "
        + "shape (4.0 KiB compared in 0.25 s)");
    assertThat(lines[1]).isEqualTo("  t0: 1 of 2 elements differ, max |Δ| 0.500000 (F32[2] vs BF16[2])");
    assertThat(lines[21]).isEqualTo("  ... and 1 more (--json lists all)");
    assertThat(keys(ReportJson.tree(report))).containsExactly("mode", "left", "right", "tensors", "identical",
        "different", "only_left", "only_right", "shape_mismatch", "bytes_compared", "seconds", "differences");
    assertThat(ReportJson.tree(report).get("mode").asText()).isEqualTo("weights");
    assertThatThrownBy(report::requireIdentical).isInstanceOf(CheckpointFormatException.class)
        .hasMessage("21 tensor(s) differ between a and b; the largest: t0: 1 of 2 elements differ, max |Δ| 0.500000 "
            + "(F32[2] vs BF16[2])");
  }

  @Test
  void streamExportSaysWhatWasSplitButKeepsTheOutputOutOfTheJson() {
    StreamExport.Summary summary = new StreamExport.Summary("slime", 8192, 8000, 3, "16x16",
        List.of(new StreamExport.BucketSummary("bucket-00000.safetensors", 2, 8000)), Path.of("out"), 1);
    assertThat(summary.describe()).isEqualTo("stream-export (slime schema) → out: 1 bucket(s), the largest 7.8 KiB "
        + "(limit 8.0 KiB) (blockwise FP8, 16x16); 2 tensor(s) larger than the limit split along axis 0, 1 of them "
        + "FP8 with their scales");
    assertThat(keys(ReportJson.tree(summary))).containsExactly("schema", "bucket_size", "largest_bucket_bytes",
        "split_tensors", "quantize", "buckets");
    assertThat(new StreamExport.Summary("megatron-bridge", 10, 10, 0, null, List.of(), Path.of("o"), 0).describe())
        .isEqualTo("stream-export (megatron-bridge schema) → o: 0 bucket(s), the largest 10 B (limit 10 B)");
  }

  @Test
  void hfInspectionWritesTheBridgeFactsAfterItsKindAndLeavesAbsentPartsOut() {
    Map<String, Object> facts = new LinkedHashMap<>();
    facts.put("architecture", "Arch");
    facts.put("mtp_layers", null);
    Inspection.Hf report = new Inspection.Hf(Path.of("/hf"), null, facts, null, 1, 2, 3L, Map.of("F32", 2),
        Map.of("visual", new Inspection.ComponentSize(2, 3)), "complete", "tp2", null,
        List.of(new Inspection.RankSize(0, "mp_rank_00", 1, 1), new Inspection.RankSize(1, "mp_rank_01", 1, 2048)),
        null);
    assertThat(keys(ReportJson.tree(report))).containsExactly("path", "kind", "architecture", "mtp_layers", "files",
        "tensors", "bytes", "dtypes", "components", "mapping", "layout", "ranks");
    assertThat(keys(ReportJson.tree(report.withTpCheck(new TensorParallelReport(List.of()))))).endsWith("ranks",
        "tp_check");
    assertThat(report.describe()).isEqualTo("""
        path: /hf
        kind: huggingface
        architecture: Arch
        mtp_layers: null
        files: 1
        tensors: 2
        bytes: 3 B (3)
        dtypes:
          F32: 2
        components:
          visual:
            tensors: 2
            bytes: 3 B (3)
        mapping: complete
        layout: tp2
        ranks: 2 (indices 0,1)
          index  rank                tensors         size
              0  mp_rank_00                1          1 B
              1  mp_rank_01                1      2.0 KiB
          total                            2      2.0 KiB""");
  }

  @Test
  void shardsInspectionIsCompleteWhenNoRankIsMissing() {
    Inspection.Shards incomplete = new Inspection.Shards(Path.of("/s"), "Arch", "Bridge", "tp2", "mtp", "grouped",
        5, 2, List.of("mp_rank_01"), "1", Map.of(), null, null, null, "incomplete: 1 rank(s) not written yet");
    assertThat(incomplete.complete()).isFalse();
    assertThat(keys(ReportJson.tree(incomplete))).containsExactly("path", "kind", "architecture", "bridge", "layout",
        "mtp_naming", "expert_naming", "hf_tensors", "ranks_total", "ranks_missing", "ranks_missing_indices",
        "status");
    List<String> none = new ArrayList<>();
    assertThat(new Inspection.Shards(Path.of("/s"), "A", "B", "l", "m", "e", 1, 1, none, "", Map.of("layers", 2),
        List.of(), "sha256:x", "recorded", "complete").complete()).isTrue();
  }
}
