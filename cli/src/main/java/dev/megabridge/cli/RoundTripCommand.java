package dev.megabridge.cli;

import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.HfDtypes;
import dev.megabridge.core.convert.HfFolderWriter;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.io.TemporaryFolders;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Import to a temporary folder, export, compare bit for bit, report. */
@Command(name = "roundtrip", mixinStandardHelpOptions = true,
    description = "HF → Megatron (given layout) → HF in temporary folders, then a bit-exact comparison with the source.")
public final class RoundTripCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder.")
  Path source;

  @Option(names = "--work", description = "Folder for the scratch folder (default: $TMPDIR, else java.io.tmpdir).")
  Path work;

  @Mixin
  CommonOptions common;

  @Mixin
  LayoutOptions layout;

  @Mixin
  MixedDtypesOption dtypes;

  @Mixin
  WriteThreadsOption threads;

  @Override
  public Integer call() {
    Output.existingDirectory(source, "HF folder");
    Map<String, Object> report = run(source, work == null ? TemporaryFolders.systemTemp() : work, layout, common,
        dtypes.policy(), threads.rankFiles(), threads.hfFiles());
    boolean identical = report.get("identical").equals(Boolean.TRUE);
    if (common.json) {
      // One JSON document either way: the report says "identical": false and lists the differences.
      Output.json(report);
      if (!identical) {
        System.err.println("error: round trip of " + source + " is not bit-identical");
        return BridgeException.ExitCode.BAD_INPUT.code();
      }
      return 0;
    }
    InspectCommand.print(report, "");
    if (!identical) {
      throw new MappingException("round trip of " + source + " is not bit-identical: " + report.get("differences"));
    }
    return 0;
  }

  /** The scratch folders' name prefix; those of killed runs are removed by the next run in the same folder. */
  static final String SCRATCH_PREFIX = "megabridge-roundtrip-";

  /** A round trip with mixed dtypes an error and the default numbers of files written at once. */
  static Map<String, Object> run(Path source, Path workParent, LayoutOptions layout, CommonOptions common) {
    return run(source, workParent, layout, common, MixedDtypesOption.policy(false),
        Runtime.getRuntime().availableProcessors(), HfFolderWriter.FILES_AT_ONCE);
  }

  static Map<String, Object> run(Path source, Path workParent, LayoutOptions layout, CommonOptions common,
      HfDtypes.Policy dtypePolicy, int rankFiles, int hfFiles) {
    TemporaryFolders.Registration registration = TemporaryFolders.scratch(workParent, SCRATCH_PREFIX,
        "the round trip's scratch folder");
    Path scratch = registration.folder();
    try {
      AutoBridge autoBridge = AutoBridge.discover();
      Path shards = scratch.resolve("megatron");
      Path exported = scratch.resolve("hf");
      long start = System.nanoTime();
      Importer.Summary imported = Importer.run(source, shards, new Importer.Options(layout.layout(),
          layout.bridgeOptions(), Optional.empty(), false, rankFiles, dtypePolicy),
          autoBridge,
          ConsoleProgress.create(common));
      long middle = System.nanoTime();
      Exporter.run(shards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false, Optional.empty(),
          hfFiles), autoBridge,
          ConsoleProgress.create(common));
      long end = System.nanoTime();
      CheckpointComparison.Result result = CheckpointComparison.compare(source, exported);
      Map<String, Object> report = new LinkedHashMap<>();
      report.put("source", source.toAbsolutePath().normalize().toString());
      report.put("architecture", imported.architecture());
      report.put("layout", imported.layout());
      report.put("schema", imported.schema());
      report.put("ranks", imported.ranksTotal());
      report.put("tensors", result.tensors());
      report.put("bytes", result.bytes());
      report.put("import_seconds", (middle - start) / 1e9);
      report.put("export_seconds", (end - middle) / 1e9);
      report.put("identical", result.identical());
      report.put("differences", result.differences());
      return report;
    } finally {
      registration.delete();
    }
  }
}
