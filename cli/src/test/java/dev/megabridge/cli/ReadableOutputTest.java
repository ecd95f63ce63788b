package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.report.RankList;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What people read: inspect's per-rank table, progress bars, rounded durations. */
class ReadableOutputTest {

  @TempDir
  Path temp;

  @Test
  void rankListsAreWrittenTheWayRanksTakesThem() {
    assertThat(RankList.format(List.of(0, 1, 2, 3, 8))).isEqualTo("0-3,8");
    assertThat(RankList.format(List.of(5, 1, 0))).isEqualTo("0,1,5");
    assertThat(RankList.format(List.of(2, 3, 4, 6, 7, 8, 9))).isEqualTo("2-4,6-9");
    assertThat(RankList.format(List.of())).isEmpty();
    assertThat(ImportCommand.parseRanks(RankList.format(List.of(0, 1, 2, 3, 8, 10, 11))).orElseThrow())
        .containsExactly(0, 1, 2, 3, 8, 10, 11);
  }

  @Test
  void inspectWithALayoutPrintsATableWithIndicesSizesAndTotals() {
    Run run = run("inspect", fixture("qwen35_moe_vl").toString(), "--tp", "2", "--ep", "4", "--pp", "2");
    assertThat(run.exitCode()).as(run.err()).isZero();
    List<String> lines = run.out().lines().toList();
    int header = lines.indexOf(lines.stream().filter(line -> line.startsWith("ranks:")).findFirst().orElseThrow());
    assertThat(lines.get(header)).isEqualTo("ranks: 16 (indices 0-15)");
    assertThat(lines.get(header + 1).split("\\s+")).containsExactly("", "index", "rank", "tensors", "size");
    assertThat(lines.get(header + 2).strip()).matches("0 +mp_rank_00_000_000 +96 +844\\.7 KiB");
    assertThat(lines.get(header + 18).strip()).matches("total +1432 +13\\.52 MiB");
    assertThat(run.out()).contains("bytes: 4.17 MiB (4374208)").doesNotContain("{rank=");
  }

  @Test
  void inspectOfAPartlyWrittenFolderGivesTheMissingRanksAsRanksTakesThem() throws IOException {
    Path shared = temp.resolve("shared");
    assertThat(run("import", fixture("qwen35_moe_vl").toString(), shared.toString(), "--tp", "2", "--ep", "2",
        "--ranks", "1", "--quiet").exitCode()).isZero();
    JsonNode report = Output.JSON.readTree(run("inspect", shared.toString(), "--json").out());
    assertThat(report.get("ranks_missing_indices").asText()).isEqualTo("0,2,3");
    assertThat(run("inspect", shared.toString()).out()).contains("ranks_missing_indices: 0,2,3");
  }

  @Test
  void roundTripPrintsRoundedDurations() {
    Run run = run("roundtrip", fixture("qwen35_dense_vl").toString(), "--quiet");
    assertThat(run.exitCode()).as(run.err()).isZero();
    assertThat(run.out()).containsPattern("import_seconds: \\d+\\.\\d\\d s\n").containsPattern(
        "export_seconds: \\d+\\.\\d\\d s\n").contains("differences: none");
  }

  @Test
  void progressLinesAgreeWithTheirOwnClock() {
    // 783 MiB in 3.0 s: 261 MiB/s, elapsed 3.0 s; the old bar showed (0:00:01) next to 261 MiB/s.
    String done = ConsoleProgress.render("import", 783L << 20, 783L << 20, Duration.ofMillis(3000), 100);
    assertThat(done).startsWith("import 100% [").contains("] 783.00/783.00 MiB  261 MiB/s  3.0 s")
        .doesNotContain("ETA");
    String half = ConsoleProgress.render("export", 50L << 20, 100L << 20, Duration.ofSeconds(4), 100);
    assertThat(half).contains(" 50% [").contains("50.00/100.00 MiB  12.5 MiB/s  4.0 s  ETA 4.0 s");
    assertThat(half.length()).isLessThanOrEqualTo(100);
  }

  @Test
  void progressLinesHaveNoUnknownRatesOrFilledBarsAtZero() {
    String start = ConsoleProgress.render("import", 0, 100L << 20, Duration.ZERO, 80);
    assertThat(start).startsWith("import   0% [ ").doesNotContain("=").doesNotContain("?").doesNotContain("/s");
    String early = ConsoleProgress.render("import", 1L << 20, 100L << 20, Duration.ofMillis(100), 80);
    assertThat(early).doesNotContain("/s").doesNotContain("?");
    String slow = ConsoleProgress.render("import", 300 << 10, 100L << 20, Duration.ofSeconds(10), 80);
    assertThat(slow).contains("30.0 KiB/s").doesNotContain(" .0");
    assertThat(ConsoleProgress.rate(0.5 * (1 << 20))).isEqualTo("512 KiB/s");
    assertThat(ConsoleProgress.rate(1.5 * (1 << 20))).isEqualTo("1.50 MiB/s");
    assertThat(ConsoleProgress.duration(125)).isEqualTo("2:05");
    assertThat(ConsoleProgress.duration(3725)).isEqualTo("1:02:05");
  }
}
