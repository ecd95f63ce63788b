package dev.megabridge.cli;

import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.HfDtypes;
import dev.megabridge.core.convert.HfFolderWriter;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.TemporaryFolders;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Import to a temporary folder, export, compare bit for bit, report. A blockwise FP8 source is imported dequantized
 * and exported re-quantized with its block size; its FP8 codes and scales are counted (how many came back
 * identical), since re-quantizing what was dequantized may round a value to the neighbouring code, and every
 * other tensor must be bit-identical.
 */
@Command(name = "roundtrip", mixinStandardHelpOptions = true,
    description = "HF → Megatron (given layout) → HF in temporary folders, then a bit-exact comparison with the source "
        + "(an FP8 source is re-quantized on export; its codes and scales are counted).")
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

  /** The FP8 codes (e4m3 tensors) and their scales in the source folder. */
  private static Set<String> quantizedTensors(Path source) {
    Set<String> names = new HashSet<>();
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(source)) {
      for (String name : checkpoint.names()) {
        if (checkpoint.tensor(name).dtype() == DType.F8_E4M3) {
          names.add(name);
          names.add(Fp8Config.scaleName(name));
        }
      }
    }
    return names;
  }

  /** Codes and scales that came back identical, over all quantized weights. */
  private static Map<String, Object> fp8Counts(List<CheckpointComparison.ElementCount> counted) {
    long codes = 0;
    long sameCodes = 0;
    long scales = 0;
    long sameScales = 0;
    for (CheckpointComparison.ElementCount count : counted) {
      if (Fp8Config.isScaleName(count.name())) {
        scales += count.elements();
        sameScales += count.identical();
      } else {
        codes += count.elements();
        sameCodes += count.identical();
      }
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("codes", codes);
    out.put("codes_identical", sameCodes);
    out.put("scales", scales);
    out.put("scales_identical", sameScales);
    return out;
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
      Optional<Fp8Config> fp8 = Fp8Config.of(HfConfig.load(source));
      Exporter.run(shards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false,
          fp8.map(config -> new Fp8Blocks(config.blockRows(), config.blockColumns())), hfFiles), autoBridge,
          ConsoleProgress.create(common));
      long end = System.nanoTime();
      Set<String> quantized = fp8.isPresent() ? quantizedTensors(source) : Set.of();
      CheckpointComparison.Result result = CheckpointComparison.compare(source, exported, quantized::contains);
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
      if (fp8.isPresent()) {
        report.put("fp8_requantized", fp8Counts(result.counted()));
      }
      return report;
    } finally {
      registration.delete();
    }
  }
}
