package dev.megabridge.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.io.OutputDirectory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Issue-4 benchmark: a synthetic checkpoint with real Qwen3.5-35B-A3B widths (a few layers, the full vision
 * tower and MTP), then in one run: {@code cp -r} of it (the baseline), {@code import --tp 2 --ep 4} and
 * {@code export}, then import to torch_dist and export back (issue 5), each in its own process with its peak
 * RssAnon sampled. Targets: import and export ≤ 1.5 ×
 * the copy time; peak RssAnon ≤ 1.5 GiB.
 */
public final class ConvertBench {

  /**
   * @param configDirectory folder with the real config.json
   * @param work scratch folder (needs about 4 × the checkpoint size free)
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

  public record Result(long checkpointBytes, long megatronBytes, double copySeconds, double importSeconds,
      double exportSeconds, long importPeakRssAnon, long exportPeakRssAnon, long copyPeakRssAnon,
      double rawWriteSeconds, double torchDistImportSeconds, double torchDistExportSeconds,
      long torchDistPeakRssAnon, boolean roundTripsIdentical) {

    public double importRatio() {
      return importSeconds / copySeconds;
    }

    public double exportRatio() {
      return exportSeconds / copySeconds;
    }

    public Map<String, Object> toMap() {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("checkpoint_bytes", checkpointBytes);
      out.put("megatron_bytes", megatronBytes);
      out.put("copy_seconds", copySeconds);
      out.put("import_seconds", importSeconds);
      out.put("export_seconds", exportSeconds);
      out.put("import_over_copy", importRatio());
      out.put("export_over_copy", exportRatio());
      out.put("raw_write_seconds_of_import_bytes", rawWriteSeconds);
      out.put("torch_dist_import_seconds", torchDistImportSeconds);
      out.put("torch_dist_export_seconds", torchDistExportSeconds);
      out.put("torch_dist_import_over_copy", torchDistImportSeconds / copySeconds);
      out.put("torch_dist_export_over_copy", torchDistExportSeconds / copySeconds);
      out.put("torch_dist_peak_rss_anon_bytes", torchDistPeakRssAnon);
      out.put("round_trips_bit_identical", roundTripsIdentical);
      out.put("import_over_raw_write", importSeconds / rawWriteSeconds);
      out.put("import_peak_rss_anon_bytes", importPeakRssAnon);
      out.put("export_peak_rss_anon_bytes", exportPeakRssAnon);
      out.put("targets_met", importRatio() <= 1.5 && exportRatio() <= 1.5
          && Math.max(importPeakRssAnon, exportPeakRssAnon) <= 1.5 * (1L << 30));
      return out;
    }

    public String describe() {
      double gib = 1L << 30;
      return String.format(Locale.ROOT, """
          checkpoint          %.2f GiB (synthetic, real Qwen3.5-35B-A3B widths)
          cp -r               %7.2f s  (%.2f GiB/s)   baseline
          import tp2 ep4      %7.2f s  = %.2f × copy   peak RssAnon %.0f MiB   writes %.2f GiB (%.2f GiB/s)
          export              %7.2f s  = %.2f × copy   peak RssAnon %.0f MiB   writes %.2f GiB (%.2f GiB/s)
          dd of the import's bytes %5.2f s  → import = %.2f × writing the same bytes from /dev/zero
          import torch_dist   %7.2f s  = %.2f × copy
          export torch_dist   %7.2f s  = %.2f × copy   peak RssAnon (both) %.0f MiB
          both round trips bit-identical to the source: %s
          targets (≤ 1.5 × copy, ≤ 1536 MiB): %s""",
          checkpointBytes / gib, copySeconds, checkpointBytes / gib / copySeconds, importSeconds, importRatio(),
          importPeakRssAnon / 1048576.0, megatronBytes / gib, megatronBytes / gib / importSeconds, exportSeconds,
          exportRatio(), exportPeakRssAnon / 1048576.0, checkpointBytes / gib, checkpointBytes / gib / exportSeconds,
          rawWriteSeconds, importSeconds / rawWriteSeconds, torchDistImportSeconds,
          torchDistImportSeconds / copySeconds, torchDistExportSeconds, torchDistExportSeconds / copySeconds,
          torchDistPeakRssAnon / 1048576.0, roundTripsIdentical ? "yes" : "NO",
          toMap().get("targets_met").equals(Boolean.TRUE) ? "met" : "NOT met");
    }
  }

  private ConvertBench() {}

  /** Generates the checkpoint once, then measures {@code rounds} rounds of copy, import, raw write, export. */
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
      List<Result> results = new ArrayList<>();
      for (int round = 0; round < options.rounds(); round++) {
        for (Path path : List.of(copy, megatron, exported)) {
          OutputDirectory.deleteRecursively(path);
        }
        sync();
        // The copy reads the source first, so every contender finds it in the page cache alike.
        prepare(options.cache(), source);
        ChildProcess.Measurement copyRun = ChildProcess.run(List.of("cp", "-r", source.toString(), copy.toString()),
            work.resolve("cp.log"));
        sync();
        OutputDirectory.deleteRecursively(copy);
        prepare(options.cache(), source);
        ChildProcess.Measurement importRun = ChildProcess.run(cli(options, "import", source.toString(),
            megatron.toString(), "--tp", "2", "--ep", "4", "--quiet"), work.resolve("import.log"));
        sync();
        long megatronBytes = sizeOf(megatron);
        // A second baseline: the raw cost of writing as many bytes as the import wrote, timed like the others.
        long blocks = Math.max(1, megatronBytes >> 23);
        prepare(options.cache(), null);
        ChildProcess.Measurement rawWrite = ChildProcess.run(List.of("sh", "-c", "dd if=/dev/zero of='"
            + work.resolve("dd.bin") + "' bs=8M count=" + blocks + " status=none"), work.resolve("dd.log"));
        sync();
        Files.deleteIfExists(work.resolve("dd.bin"));
        prepare(options.cache(), megatron);
        ChildProcess.Measurement exportRun = ChildProcess.run(cli(options, "export", megatron.toString(),
            exported.toString(), "--quiet"), work.resolve("export.log"));
        sync();
        boolean shardsIdentical = dev.megabridge.core.convert.CheckpointComparison.compare(source, exported).identical();
        // Issue 5's form: the same source to a torch_dist checkpoint (TP=1 chunks) and back.
        OutputDirectory.deleteRecursively(megatron);
        OutputDirectory.deleteRecursively(exported);
        sync();
        prepare(options.cache(), source);
        ChildProcess.Measurement torchDistImport = ChildProcess.run(cli(options, "import", source.toString(),
            torchDist.toString(), "--format", "torch_dist", "--quiet"), work.resolve("import-torch-dist.log"));
        sync();
        prepare(options.cache(), torchDist);
        ChildProcess.Measurement torchDistExport = ChildProcess.run(cli(options, "export", torchDist.toString(),
            exported.toString(), "--quiet"), work.resolve("export-torch-dist.log"));
        sync();
        boolean torchDistIdentical = dev.megabridge.core.convert.CheckpointComparison.compare(source, exported)
            .identical();
        OutputDirectory.deleteRecursively(torchDist);
        results.add(new Result(bytes, megatronBytes, copyRun.seconds(), importRun.seconds(), exportRun.seconds(),
            importRun.peakRssAnonBytes(), exportRun.peakRssAnonBytes(), copyRun.peakRssAnonBytes(),
            rawWrite.seconds(), torchDistImport.seconds(), torchDistExport.seconds(),
            Math.max(torchDistImport.peakRssAnonBytes(), torchDistExport.peakRssAnonBytes()),
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

  /** Median of the import and export ratios and the largest peak RssAnon over all rounds. */
  public static Map<String, Object> summary(List<Result> results) {
    double importMedian = median(results.stream().mapToDouble(Result::importRatio).toArray());
    double exportMedian = median(results.stream().mapToDouble(Result::exportRatio).toArray());
    long peak = results.stream().mapToLong(result -> Math.max(result.importPeakRssAnon(), result.exportPeakRssAnon()))
        .max().orElse(0);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("rounds", results.size());
    out.put("median_import_over_copy", importMedian);
    out.put("median_export_over_copy", exportMedian);
    out.put("max_peak_rss_anon_bytes", peak);
    out.put("targets_met", importMedian <= 1.5 && exportMedian <= 1.5 && peak <= 1.5 * (1L << 30));
    return out;
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    java.util.Arrays.sort(sorted);
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
          throw new dev.megabridge.core.error.UsageException("--cache cold needs root to drop the page cache ("
              + e.getMessage() + "); use --cache warm");
        }
      }
      case WARM -> {
        if (input != null) {
          try (var files = Files.walk(input)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
              try (var channel = java.nio.channels.FileChannel.open(file)) {
                java.nio.ByteBuffer buffer = java.nio.ByteBuffer.allocateDirect(8 << 20);
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
