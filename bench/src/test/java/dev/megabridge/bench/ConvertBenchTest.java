package dev.megabridge.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.bench.ConvertBench.Result;
import dev.megabridge.bench.ConvertBench.Step;
import dev.megabridge.core.report.ReportJson;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/** The bench's arithmetic: which times a ratio divides, the two baselines, the targets and the summary's medians. */
class ConvertBenchTest {
  private static final long MIB = 1L << 20;

  /** A round whose copies took 8 + 2 s and 18 + 2 s on disk (mean 15 s, faster 10 s). */
  private static Result round(Step importShards, Step export) {
    Step copyBefore = new Step(8, 2, 0);
    Step copyAfter = new Step(18, 2, 0);
    Step other = new Step(9, 0, 100 * MIB);
    return new Result(7L << 30, 16L << 30, copyBefore, importShards, export, new Step(export.seconds() * 1.2,
        export.syncSeconds(), 0), new Step(20, 0, 0), 20L << 30, other, other, other, copyAfter, true);
  }

  @Test
  void ratiosDivideOnDiskTimesByTheMeanAndByTheFasterCopy() {
    Result result = round(new Step(15, 3, 600 * MIB), new Step(12, 0, 500 * MIB));

    assertThat(result.copySeconds()).isEqualTo(15.0);
    assertThat(result.fasterCopySeconds()).isEqualTo(10.0);
    assertThat(result.importRatio()).isCloseTo(18.0 / 15, within(1e-12));
    assertThat(result.importRatioToFasterCopy()).isCloseTo(1.8, within(1e-12));
    assertThat(result.exportRatio()).isCloseTo(0.8, within(1e-12));
    assertThat(result.exportRatioToFasterCopy()).isCloseTo(1.2, within(1e-12));
    assertThat(result.peakRssAnon()).isEqualTo(600 * MIB);
    assertThat(result.targetsMet()).isTrue();
    assertThat(result.describe())
        .contains("baseline: mean of the first and last cp -r, 15.00 s on disk")
        .contains("against the faster cp -r alone (10.00 s): import 1.80 ×, export 1.20 ×")
        .contains("FP8 export = 1.20 × the plain export (target ≤ 1.3 ×)")
        .endsWith("targets (on disk ≤ 1.5 × cp -r, FP8 export ≤ 1.3 × export, ≤ 1536 MiB): met");
  }

  @Test
  void aSlowImportOrTooMuchMemoryMissesTheTargets() {
    Result slow = round(new Step(20, 2.6, 600 * MIB), new Step(12, 0, 500 * MIB));
    Result heavy = round(new Step(15, 0, 1537 * MIB), new Step(12, 0, 500 * MIB));

    assertThat(slow.importRatio()).isGreaterThan(1.5);
    assertThat(slow.targetsMet()).isFalse();
    assertThat(slow.describe()).endsWith("NOT met");
    assertThat(heavy.targetsMet()).isFalse();
    Result slowFp8 = new Result(7L << 30, 16L << 30, new Step(8, 2, 0), new Step(15, 0, 0), new Step(10, 0, 0),
        new Step(13.1, 0, 0), new Step(20, 0, 0), 20L << 30, new Step(9, 0, 0), new Step(9, 0, 0), new Step(9, 0, 0),
        new Step(18, 2, 0), true);
    assertThat(slowFp8.fp8ExportOverExport()).isCloseTo(1.31, within(1e-12));
    assertThat(slowFp8.targetsMet()).as("FP8 export over 1.3 × the plain one").isFalse();
  }

  @Test
  void summaryTakesMediansOverRounds() {
    List<Result> results = List.of(round(new Step(15, 0, 0), new Step(30, 0, 0)),
        round(new Step(12, 0, 0), new Step(6, 0, 0)), round(new Step(21, 0, 0), new Step(9, 0, 0)));

    ConvertBench.Summary summary = ConvertBench.summary(results);

    assertThat(summary.rounds()).isEqualTo(3);
    assertThat(summary.medianImportOverCopy()).isCloseTo(1.0, within(1e-12));
    assertThat(summary.medianExportOverCopy()).isCloseTo(0.6, within(1e-12));
    assertThat(summary.medianImportOverFasterCopy()).isCloseTo(1.5, within(1e-12));
    assertThat(summary.roundsMeetingTargets()).isEqualTo(2L);
    assertThat(ConvertBench.summary(results.subList(0, 2)).medianImportOverCopy())
        .isCloseTo(0.9, within(1e-12));
  }

  /** The JSON keys of the bench report, as scripts read them: the summary's, in this order, then the rounds. */
  @Test
  void reportKeepsTheSummaryKeysThenTheResults() {
    List<Result> results = List.of(round(new Step(15, 0, 0), new Step(30, 0, 0)));
    JsonNode json = ReportJson.tree(new ConvertBench.RoundsReport(ConvertBench.summary(results), results));
    List<String> keys = new ArrayList<>();
    json.fieldNames().forEachRemaining(keys::add);
    assertThat(keys).containsExactly("rounds", "median_import_over_copy", "median_export_over_copy",
        "median_fp8_export_over_export", "median_import_etp1_over_copy", "median_torch_dist_import_over_copy",
        "median_torch_dist_export_over_copy", "median_import_over_faster_copy", "median_export_over_faster_copy",
        "max_peak_rss_anon_bytes", "rounds_meeting_targets", "results");
    assertThat(json.get("results").get(0).has("copy_before")).isTrue();
    assertThat(new ConvertBench.RoundsReport(ConvertBench.summary(results), results).describe())
        .startsWith("round 1:\n" + results.getFirst().describe() + "\nsummary:\n  rounds: 1\n")
        .contains(String.format(Locale.ROOT, "\n  median_import_over_copy: %.3f\n",
            results.getFirst().importRatio()))
        .endsWith("\n  max_peak_rss_anon_bytes: " + results.getFirst().peakRssAnon() + "\n  rounds_meeting_targets: "
            + (results.getFirst().targetsMet() ? 1 : 0));
  }
}
