package dev.megabridge.core.convert;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.TemporaryFolders;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.report.KeyValueReport;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.DType;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Import to a scratch folder, export, compare bit for bit. A blockwise FP8 source is imported dequantized and
 * exported re-quantized with its block size; its FP8 codes and scales are counted (how many came back identical),
 * since re-quantizing what was dequantized may round a value to the neighbouring code, and every other tensor must
 * be bit-identical.
 */
public final class RoundTrip {
  /** The scratch folders' name prefix; those of killed runs are removed by the next run in the same folder. */
  public static final String SCRATCH_PREFIX = "megabridge-roundtrip-";

  private RoundTrip() {}

  /** How the round trip is run: the Megatron layout and names, the dtype rule, the numbers of files written at once. */
  public record Options(ParallelLayout layout, BridgeOptions bridgeOptions, HfDtypes.Policy dtypes, int rankFiles,
      int hfFiles) {}

  /**
   * What came back: the source, what import planned, the comparison ({@code differences} names each tensor that is
   * not bit-identical), the time of each step and, for an FP8 source, the re-quantized counts (null otherwise).
   */
  public record Summary(Path source, String architecture, String layout, String schema, int ranks, int tensors,
      long bytes, double importSeconds, double exportSeconds, boolean identical, List<String> differences,
      @JsonInclude(JsonInclude.Include.NON_NULL) Fp8Requantized fp8Requantized) implements KeyValueReport {

    public Summary {
      differences = List.copyOf(differences);
    }
  }

  /** Elements of the FP8 codes and of their scales, and how many of each came back identical. */
  public record Fp8Requantized(long codes, long codesIdentical, long scales, long scalesIdentical) {

    static Fp8Requantized of(List<CheckpointComparison.ElementCount> counted) {
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
      return new Fp8Requantized(codes, sameCodes, scales, sameScales);
    }
  }

  /**
   * Round-trips {@code source} in a scratch folder under {@code workParent} (deleted afterwards); {@code progress}
   * gives the progress of each of the two steps.
   */
  public static Summary run(Path source, Path workParent, Options options, AutoBridge autoBridge,
      Supplier<Progress> progress) {
    TemporaryFolders.Registration registration = TemporaryFolders.scratch(workParent, SCRATCH_PREFIX,
        "the round trip's scratch folder");
    Path scratch = registration.folder();
    try {
      Path shards = scratch.resolve("megatron");
      Path exported = scratch.resolve("hf");
      long start = System.nanoTime();
      Importer.Summary imported = Importer.run(source, shards, new Importer.Options(options.layout(),
          options.bridgeOptions(), Optional.empty(), false, options.rankFiles(), options.dtypes()), autoBridge,
          progress.get());
      long middle = System.nanoTime();
      Optional<Fp8Config> fp8 = Fp8Config.of(HfConfig.load(source));
      Exporter.run(shards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false,
          fp8.map(config -> new Fp8Blocks(config.blockRows(), config.blockColumns())), options.hfFiles()), autoBridge,
          progress.get());
      long end = System.nanoTime();
      Set<String> quantized = fp8.isPresent() ? quantizedTensors(source) : Set.of();
      CheckpointComparison.Result result = CheckpointComparison.compare(source, exported, quantized::contains);
      return new Summary(source, imported.architecture(), imported.layout(), imported.schema(), imported.ranksTotal(),
          result.tensors(), result.bytes(), (middle - start) / 1e9, (end - middle) / 1e9, result.identical(),
          result.differences(), fp8.isPresent() ? Fp8Requantized.of(result.counted()) : null);
    } finally {
      registration.delete();
    }
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
}
