package dev.megabridge.bench;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.report.KeyValueReport;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.report.ReportJson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Issue-4 benchmark: a synthetic checkpoint with real Qwen3.5-35B-A3B widths (a few layers, the full vision
 * tower and MTP), then in one run: {@code cp -r} of it (the baseline), {@code import --tp 2 --ep 4} (ETP = TP,
 * Megatron-core's default) and {@code export}, the same import with {@code --etp 1} (slime's example layout; reported,
 * not a target), then import to torch_dist and export back (issue 5), then {@code cp -r} again, each in its own
 * process with its peak RssAnon sampled, each followed by a timed {@code sync}. Ratios compare the times until the output is on disk
 * (command + sync): {@code cp} returns while its last gigabytes are still dirty in the page cache, megabridge
 * writes with O_DIRECT and returns with nothing left to flush, so the return times alone would compare unequal
 * amounts of work (both are reported). Targets: each ratio ≤ 1.5; peak RssAnon ≤ 1.5 GiB.
 */
public final class ConvertBench {

  /**
   * @param configDirectory folder with the real config.json
   * @param work scratch folder (needs about 4 × the checkpoint size free: the source, its copy, then the source and
   *     the largest output, the ETP-1 shards)
   * @param javaCommand the java launcher plus JVM flags used for the CLI child processes
   */
  public record Options(Path configDirectory, Path work, int layers, int rounds, CacheState cache,
      List<String> javaCommand, Path cliJar, boolean keep) {}

  /**
   * Page-cache state every timed step starts from, so that no contender inherits another's cache: COLD drops the
   * page cache (needs root; real checkpoints of tens of GB are not cached either), WARM reads the step's input
   * once before timing it.
   */
  public enum CacheState {
    COLD,
    WARM
  }

  /**
   * One timed command: seconds until it returned, then seconds of the {@code sync} right after it (the write-back
   * it left behind: a {@code cp} through the page cache returns with gigabytes still dirty, a direct writer with
   * none), and its peak RssAnon.
   */
  public record Step(double seconds, double syncSeconds, long peakRssAnonBytes) {

    /** Until the command's output is on disk: the time compared against the target. */
    public double onDiskSeconds() {
      return seconds + syncSeconds;
    }

    Map<String, Object> toMap() {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("seconds", seconds);
      out.put("sync_seconds", syncSeconds);
      out.put("on_disk_seconds", onDiskSeconds());
      out.put("peak_rss_anon_bytes", peakRssAnonBytes);
      return out;
    }
  }

  /**
   * One round. {@code ioReference} reads the source (cold like the others) with {@code cat} while {@code dd
   * oflag=direct} writes as many bytes as the import wrote: what plain tools need for the import's I/O (the import,
   * which overlaps its reads and writes, took 0.57–0.82 × its time in all but one round of stops 9–10).
   */
  public record Result(long checkpointBytes, long megatronBytes, Step copyBefore, Step importShards, Step export,
      Step exportFp8, Step ioReference, long megatronEtp1Bytes, Step importEtp1, Step torchDistImport,
      Step torchDistExport, Step copyAfter, boolean roundTripsIdentical) {

    /**
     * The baseline: the mean of the copies that open and close the round, because the disk of a shared VM drifts
     * between fast and slow phases over minutes and one copy would bias every ratio with its phase.
     */
    public double copySeconds() {
      return (copyBefore.onDiskSeconds() + copyAfter.onDiskSeconds()) / 2;
    }

    /** {@code step}'s on-disk time over the baseline: the figure the targets bound. */
    private double ratio(Step step) {
      return step.onDiskSeconds() / copySeconds();
    }

    /**
     * The strictest baseline, reported beside the mean: the faster of the two copies alone. When one copy of a round
     * is much slower than the other (a drifting shared disk), the mean hides how steps compare to the faster one.
     */
    public double fasterCopySeconds() {
      return Math.min(copyBefore.onDiskSeconds(), copyAfter.onDiskSeconds());
    }

    private double ratioToFasterCopy(Step step) {
      return step.onDiskSeconds() / fasterCopySeconds();
    }

    public double importRatioToFasterCopy() {
      return ratioToFasterCopy(importShards);
    }

    public double exportRatioToFasterCopy() {
      return ratioToFasterCopy(export);
    }

    /** {@code step}'s return time over the copies' mean return time (printed beside the on-disk ratio). */
    private double returnedRatio(Step step) {
      return step.seconds() / ((copyBefore.seconds() + copyAfter.seconds()) / 2);
    }

    public double importRatio() {
      return ratio(importShards);
    }

    /** Informational: with ETP 1 every TP rank's file holds all experts of its EP rank. */
    public double importEtp1Ratio() {
      return ratio(importEtp1);
    }

    public double exportRatio() {
      return ratio(export);
    }

    /** The FP8 export of the same shards over the plain export in the same round (target ≤ 1.3). */
    public double fp8ExportOverExport() {
      return exportFp8.onDiskSeconds() / export.onDiskSeconds();
    }

    public double torchDistImportRatio() {
      return ratio(torchDistImport);
    }

    public double torchDistExportRatio() {
      return ratio(torchDistExport);
    }

    public long peakRssAnon() {
      return Stream.of(importShards, export, exportFp8, importEtp1, torchDistImport, torchDistExport)
          .mapToLong(Step::peakRssAnonBytes).max().orElse(0);
    }

    public boolean targetsMet() {
      return importRatio() <= 1.5 && exportRatio() <= 1.5 && torchDistImportRatio() <= 1.5
          && torchDistExportRatio() <= 1.5 && fp8ExportOverExport() <= 1.3 && peakRssAnon() <= 1.5 * (1L << 30);
    }

    public Map<String, Object> toMap() {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("checkpoint_bytes", checkpointBytes);
      out.put("megatron_bytes", megatronBytes);
      out.put("copy_before", copyBefore.toMap());
      out.put("copy_after", copyAfter.toMap());
      out.put("copy_on_disk_seconds_mean", copySeconds());
      out.put("import", importShards.toMap());
      out.put("export", export.toMap());
      out.put("export_fp8", exportFp8.toMap());
      out.put("io_reference_of_import", ioReference.toMap());
      out.put("megatron_etp1_bytes", megatronEtp1Bytes);
      out.put("import_etp1", importEtp1.toMap());
      out.put("torch_dist_import", torchDistImport.toMap());
      out.put("torch_dist_export", torchDistExport.toMap());
      out.put("import_over_copy", importRatio());
      out.put("export_over_copy", exportRatio());
      out.put("fp8_export_over_export", fp8ExportOverExport());
      out.put("import_etp1_over_copy", importEtp1Ratio());
      out.put("torch_dist_import_over_copy", torchDistImportRatio());
      out.put("torch_dist_export_over_copy", torchDistExportRatio());
      out.put("import_over_faster_copy", importRatioToFasterCopy());
      out.put("export_over_faster_copy", exportRatioToFasterCopy());
      out.put("import_over_io_reference", importShards.onDiskSeconds() / ioReference.onDiskSeconds());
      out.put("round_trips_bit_identical", roundTripsIdentical);
      out.put("targets_met", targetsMet());
      return out;
    }

    public String describe() {
      double gib = 1L << 30;
      StringBuilder out = new StringBuilder(String.format(Locale.ROOT, """
          checkpoint %.2f GiB (synthetic, real Qwen3.5-35B-A3B widths); the import writes %.2f GiB
          baseline: mean of the first and last cp -r, %.2f s on disk
                                  returned   on disk   ratio on disk (returned)   peak RssAnon
          """, checkpointBytes / gib, megatronBytes / gib, copySeconds()));
      baselineLine(out, "cp -r (first)", copyBefore);
      line(out, "import tp2 ep4 (etp 2)", importShards);
      line(out, "export", export);
      line(out, "export fp8-block", exportFp8);
      line(out, "import ... --etp 1 *", importEtp1);
      line(out, "import torch_dist", torchDistImport);
      line(out, "export torch_dist", torchDistExport);
      baselineLine(out, "cp -r (last)", copyAfter);
      out.append(String.format(Locale.ROOT, "I/O reference of the import (read source ‖ dd oflag=direct %.2f GiB): %.2f s"
          + " → import = %.2f × reference%n", megatronBytes / gib, ioReference.onDiskSeconds(),
          importShards.onDiskSeconds() / ioReference.onDiskSeconds()));
      out.append(String.format(Locale.ROOT, "against the faster cp -r alone (%.2f s): import %.2f ×, export %.2f ×,"
          + " torch_dist import %.2f ×, export %.2f ×%n", fasterCopySeconds(), importRatioToFasterCopy(),
          exportRatioToFasterCopy(), ratioToFasterCopy(torchDistImport), ratioToFasterCopy(torchDistExport)));
      out.append(String.format(Locale.ROOT, "FP8 export = %.2f × the plain export (target ≤ 1.3 ×)%n",
          fp8ExportOverExport()));
      out.append(String.format(Locale.ROOT, "* not a target: ETP 1 (slime's example) writes %.2f GiB, the experts of an EP"
          + " rank in both TP ranks' files%n", megatronEtp1Bytes / gib));
      out.append("both round trips bit-identical to the source: ").append(roundTripsIdentical ? "yes" : "NO")
          .append('\n');
      out.append("targets (on disk ≤ 1.5 × cp -r, FP8 export ≤ 1.3 × export, ≤ 1536 MiB): ").append(targetsMet() ? "met" : "NOT met");
      return out.toString();
    }

    private static void baselineLine(StringBuilder out, String label, Step step) {
      times(out, label, step).append(String.format(Locale.ROOT, "%-26s %s%n", "baseline", "-"));
    }

    private void line(StringBuilder out, String label, Step step) {
      times(out, label, step).append(String.format(Locale.ROOT, "%-26s %.0f MiB%n",
          String.format(Locale.ROOT, "%.2f × (%.2f ×)", ratio(step), returnedRatio(step)),
          step.peakRssAnonBytes() / 1048576.0));
    }

    private static StringBuilder times(StringBuilder out, String label, Step step) {
      return out.append(String.format(Locale.ROOT, "%-24s %7.2f s %7.2f s   ", label, step.seconds(),
          step.onDiskSeconds()));
    }
  }

  private ConvertBench() {}

  /**
   * Generates the checkpoint once, then measures {@code rounds} rounds of: copy, import, export, I/O reference,
   * import with ETP 1, torch_dist import and export, copy again.
   */
  public static List<Result> run(Options options) {
    Path work = options.work();
    try {
      Files.createDirectories(work);
      Path source = work.resolve("hf-source");
      Path copy = work.resolve("hf-copy");
      Path megatron = work.resolve("megatron");
      Path exported = work.resolve("hf-export");
      Path torchDist = work.resolve("torch-dist");
      for (Path path : List.of(source, copy, megatron, exported, torchDist)) {
        OutputDirectory.deleteRecursively(path);
      }
      ObjectNode config = SyntheticCheckpoint.truncatedConfig(options.configDirectory(), options.layers());
      long bytes = SyntheticCheckpoint.write(config, source, 42);
      sync();
      // One untimed copy first: right after the generator's writes the disk's buffered write-back is slow (the
      // first timed copy took about 20 s in every run, the others 6–8 s), which would flatter round 1's ratios.
      timed(List.of("cp", "-r", source.toString(), copy.toString()), work.resolve("cp.log"));
      OutputDirectory.deleteRecursively(copy);
      List<Result> results = new ArrayList<>();
      for (int round = 0; round < options.rounds(); round++) {
        for (Path path : List.of(copy, megatron, exported)) {
          OutputDirectory.deleteRecursively(path);
        }
        sync();
        prepare(options.cache(), source);
        Step copyBefore = timed(List.of("cp", "-r", source.toString(), copy.toString()), work.resolve("cp.log"));
        OutputDirectory.deleteRecursively(copy);
        prepare(options.cache(), source);
        Step importRun = timed(cli(options, "import", source.toString(), megatron.toString(), "--tp", "2", "--ep",
            "4", "--quiet"), work.resolve("import.log"));
        long megatronBytes = sizeOf(megatron);
        // Each megabridge step that reads another's output runs right after it (as the torch_dist export below):
        // the VM's disk has a host-side cache the guest cannot drop, so a step reading data that tens of GB of
        // other I/O have pushed out of it reads slower than one that follows its producer.
        // The FP8 export reads the same shards; the two alternate which goes first, so neither always inherits
        // the other's reads from the disk's host-side cache.
        Step exportFp8Run = null;
        if (round % 2 == 1) {
          exportFp8Run = exportFp8(options, megatron, exported, work);
        }
        prepare(options.cache(), megatron);
        Step exportRun = timed(cli(options, "export", megatron.toString(), exported.toString(), "--quiet"),
            work.resolve("export.log"));
        boolean shardsIdentical = CheckpointComparison.compare(source, exported).identical();
        OutputDirectory.deleteRecursively(exported);
        if (round % 2 == 0) {
          exportFp8Run = exportFp8(options, megatron, exported, work);
        }
        OutputDirectory.deleteRecursively(megatron);
        prepare(options.cache(), source);
        Step ioReference = timed(List.of("sh", "-c", "cat '" + source + "'/*.safetensors > /dev/null & dd if=/dev/zero of='"
            + work.resolve("dd.bin") + "' bs=16M count=" + Math.max(1, megatronBytes >> 24)
            + " oflag=direct status=none; wait"), work.resolve("dd.log"));
        Files.deleteIfExists(work.resolve("dd.bin"));
        prepare(options.cache(), source);
        Step importEtp1 = timed(cli(options, "import", source.toString(), megatron.toString(), "--tp", "2", "--ep",
            "4", "--etp", "1", "--quiet"), work.resolve("import-etp1.log"));
        long megatronEtp1Bytes = sizeOf(megatron);
        // Issue 5's form: the same source to a torch_dist checkpoint (TP=1 chunks) and back.
        OutputDirectory.deleteRecursively(megatron);
        prepare(options.cache(), source);
        Step torchDistImport = timed(cli(options, "import", source.toString(), torchDist.toString(), "--format",
            "torch_dist", "--quiet"), work.resolve("import-torch-dist.log"));
        prepare(options.cache(), torchDist);
        Step torchDistExport = timed(cli(options, "export", torchDist.toString(), exported.toString(), "--quiet"),
            work.resolve("export-torch-dist.log"));
        boolean torchDistIdentical = CheckpointComparison.compare(source, exported)
            .identical();
        OutputDirectory.deleteRecursively(torchDist);
        OutputDirectory.deleteRecursively(exported);
        prepare(options.cache(), source);
        Step copyAfter = timed(List.of("cp", "-r", source.toString(), copy.toString()), work.resolve("cp.log"));
        OutputDirectory.deleteRecursively(copy);
        results.add(new Result(bytes, megatronBytes, copyBefore, importRun, exportRun, exportFp8Run, ioReference,
            megatronEtp1Bytes, importEtp1, torchDistImport, torchDistExport, copyAfter,
            shardsIdentical && torchDistIdentical));
      }
      if (!options.keep()) {
        for (Path path : List.of(source, megatron, exported)) {
          OutputDirectory.deleteRecursively(path);
        }
      }
      return results;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Medians of the on-disk ratios over the rounds, the largest peak RssAnon, the rounds that met the targets. */
  public record Summary(int rounds, double medianImportOverCopy, double medianExportOverCopy,
      double medianFp8ExportOverExport, double medianImportEtp1OverCopy, double medianTorchDistImportOverCopy,
      double medianTorchDistExportOverCopy, double medianImportOverFasterCopy, double medianExportOverFasterCopy,
      long maxPeakRssAnonBytes, long roundsMeetingTargets) implements KeyValueReport {}

  /** What the bench reports: the summary's keys, then every round's measurements ({@code results}). */
  public record RoundsReport(@JsonUnwrapped Summary summary, @JsonIgnore List<Result> rounds) implements Report {

    @JsonProperty("results")
    public List<Map<String, Object>> results() {
      return rounds.stream().map(Result::toMap).toList();
    }

    /** Each round's lines, then the summary's, indented. */
    @Override
    public String describe() {
      StringBuilder lines = new StringBuilder();
      for (int round = 0; round < rounds.size(); round++) {
        lines.append("round ").append(round + 1).append(":\n").append(rounds.get(round).describe()).append('\n');
      }
      return lines.append("summary:\n").append(KeyValueReport.lines(ReportJson.tree(summary), "  ")).toString();
    }
  }

  public static Summary summary(List<Result> results) {
    return new Summary(results.size(), median(results.stream().mapToDouble(Result::importRatio).toArray()),
        median(results.stream().mapToDouble(Result::exportRatio).toArray()),
        median(results.stream().mapToDouble(Result::fp8ExportOverExport).toArray()),
        median(results.stream().mapToDouble(Result::importEtp1Ratio).toArray()),
        median(results.stream().mapToDouble(Result::torchDistImportRatio).toArray()),
        median(results.stream().mapToDouble(Result::torchDistExportRatio).toArray()),
        median(results.stream().mapToDouble(Result::importRatioToFasterCopy).toArray()),
        median(results.stream().mapToDouble(Result::exportRatioToFasterCopy).toArray()),
        results.stream().mapToLong(Result::peakRssAnon).max().orElse(0),
        results.stream().filter(Result::targetsMet).count());
  }

  /** {@code export --quantize fp8-block} of {@code megatron} into {@code exported}, timed; the output is deleted. */
  private static Step exportFp8(Options options, Path megatron, Path exported, Path work) throws IOException {
    prepare(options.cache(), megatron);
    Step step = timed(cli(options, "export", megatron.toString(), exported.toString(), "--quantize", "fp8-block",
        "--quiet"), work.resolve("export-fp8.log"));
    OutputDirectory.deleteRecursively(exported);
    return step;
  }

  /** Runs {@code command}, then {@code sync}, timing both. */
  private static Step timed(List<String> command, Path log) {
    ChildProcess.Measurement run = ChildProcess.run(command, log);
    long start = System.nanoTime();
    sync();
    return new Step(run.seconds(), (System.nanoTime() - start) / 1e9, run.peakRssAnonBytes());
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int middle = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  }

  private static List<String> cli(Options options, String... arguments) {
    List<String> command = new ArrayList<>(options.javaCommand());
    command.add("-jar");
    command.add(options.cliJar().toString());
    command.addAll(List.of(arguments));
    return command;
  }

  /** Flushes dirty pages, then drops the page cache (COLD) or reads {@code input} once (WARM). */
  private static void prepare(CacheState cache, Path input) throws IOException {
    sync();
    switch (cache) {
      case COLD -> {
        try {
          Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
        } catch (IOException e) {
          throw new UsageException("--cache cold needs root to drop the page cache ("
              + e.getMessage() + "); use --cache warm");
        }
      }
      case WARM -> {
        if (input != null) {
          try (var files = Files.walk(input)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
              try (var channel = FileChannel.open(file)) {
                ByteBuffer buffer = ByteBuffer.allocateDirect(8 << 20);
                while (channel.read(buffer.clear()) > 0) {
                  // Reading is the point: it brings the file into the page cache.
                }
              }
            }
          }
        }
      }
    }
  }

  private static long sizeOf(Path folder) throws IOException {
    try (var files = Files.walk(folder)) {
      return files.filter(Files::isRegularFile).mapToLong(path -> path.toFile().length()).sum();
    }
  }

  /** Flushes dirty pages so one step's write-back does not bill the next step. */
  private static void sync() {
    ChildProcess.run(List.of("sync"), Path.of("/dev/null"));
  }
}
