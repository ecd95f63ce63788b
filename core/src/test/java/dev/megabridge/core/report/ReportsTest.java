package dev.megabridge.core.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The shared report forms: key: value lines, the timed conversion envelope, the command envelope. */
public class ReportsTest {

  record Counts(long codes, long codesIdentical) {}

  record Sample(Path source, double importSeconds, double medianImportOverCopy, int rounds, long bytes,
      List<String> differences, List<String> missing, String empty, Counts counts) implements KeyValueReport {}

  record Line(String text, long bytesWritten) implements Report {
    @Override
    public String describe() {
      return text;
    }
  }

  record Extra(String quantize, List<Integer> tpCheck) {}

  /** The keys of a JSON object, in order. */
  public static List<String> keys(JsonNode object) {
    List<String> keys = new ArrayList<>();
    object.fieldNames().forEachRemaining(keys::add);
    return keys;
  }

  @Test
  void keyValueLinesRoundDurationsAndFractionsAndSizeBytes() {
    Sample sample = new Sample(Path.of("/data/../data/model"), 3.0123456, 0.79123456, 3, 5L << 20, List.of(),
        List.of("rank_a", "rank_b"), "", new Counts(7, 6));
    assertThat(sample.describe()).isEqualTo("""
        source: /data/model
        import_seconds: 3.01 s
        median_import_over_copy: 0.791
        rounds: 3
        bytes: 5.00 MiB (5242880)
        differences: none
        missing: [rank_a, rank_b]
        empty: none
        counts:
          codes: 7
          codes_identical: 6""");
  }

  @Test
  void keyValueLinesOfAnEmptyObjectAreItsKeyAlone() {
    record Nested(Map<String, Integer> dtypes, int files) implements KeyValueReport {}
    assertThat(new Nested(Map.of(), 0).describe()).isEqualTo("dtypes:\nfiles: 0");
  }

  @Test
  void keyValueLinesListObjectsTheWayJavaPrintsMaps() {
    record Bucket(String file, int tensors) {}
    record Buckets(List<Bucket> buckets) implements KeyValueReport {}
    assertThat(new Buckets(List.of(new Bucket("a", 1), new Bucket("b", 2))).describe())
        .isEqualTo("buckets:\n  - {file=a, tensors=1}\n  - {file=b, tensors=2}");
  }

  @Test
  void timedReportsWrapTheSummaryAndAddTheTime() {
    Line summary = new Line("imported x", 42);
    TimedReport plain = new TimedReport("import", null, summary, 1.5, "");
    assertThat(plain.describe()).isEqualTo("imported x in 1.50 s");
    JsonNode json = ReportJson.tree(plain);
    assertThat(keys(json)).containsExactly("command", "summary", "seconds");
    assertThat(keys(json.get("summary"))).containsExactly("text", "bytes_written");

    TimedReport exported = new TimedReport("export", "shards", summary, 2.0, " (blockwise FP8, 128x128)")
        .withExtra(new Extra(null, List.of(1, 2)));
    assertThat(exported.describe()).isEqualTo("imported x in 2.00 s (blockwise FP8, 128x128)");
    JsonNode withExtra = ReportJson.tree(exported);
    assertThat(keys(withExtra)).containsExactly("command", "format", "summary", "seconds", "quantize", "tp_check");
    assertThat(withExtra.get("quantize").isNull()).isTrue();
  }

  @Test
  void commandReportsPutTheCommandFirst() {
    CommandReport report = new CommandReport("forward", new Line("forward done", 3));
    assertThat(keys(ReportJson.tree(report))).containsExactly("command", "text", "bytes_written");
    assertThat(ReportJson.write(report)).startsWith("{\n  \"command\" : \"forward\",\n  \"text\" : \"forward done\"");
    assertThat(report.describe()).isEqualTo("forward done");
  }

  @Test
  void rankListsAreWrittenTheWayRanksTakesThem() {
    assertThat(RankList.format(List.of(0, 1, 2, 3, 8))).isEqualTo("0-3,8");
    assertThat(RankList.format(List.of(5, 1, 0))).isEqualTo("0,1,5");
    assertThat(RankList.format(List.of())).isEmpty();
  }
}
