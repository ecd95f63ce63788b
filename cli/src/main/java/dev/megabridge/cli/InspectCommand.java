package dev.megabridge.cli;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.HfDtypes;
import dev.megabridge.core.convert.HfTensorInfo;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.MegatronCheckpoint;
import dev.megabridge.core.convert.RankPlan;
import dev.megabridge.core.convert.ShardPlan;
import dev.megabridge.core.convert.ShardsManifest;
import dev.megabridge.core.convert.torchdist.TorchDistCheckpoint;
import dev.megabridge.core.convert.torchdist.TorchDistSidecar;
import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.torchdist.TorchDistReader;
import dev.megabridge.core.quant.Fp8DequantizedSource;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.tensor.DType;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Describes an HF folder or a Megatron shards folder; with a layout, the per-rank plan. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Describe an HF checkpoint (or config-only folder) or a megabridge Megatron folder, and check it "
        + "completely. With --tp/--pp/... prints the per-rank plan without converting.")
public final class InspectCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder, config-only folder, or Megatron shards folder.")
  Path directory;

  @Mixin
  HfConfigOption hfConfig;

  @Option(names = "--verify",
      description = "Megatron folders: read every byte once and check every checksum (torch_dist: each zip record's "
          + "CRC-32; shards: each rank file's header and tensor CRC-32s). Exit 3 on a mismatch, or when the folder "
          + "records no checksums.")
  boolean verify;

  @Option(names = "--allow-incomplete",
      description = "Exit 0 for a shards folder whose ranks are not all written yet (a multi-node import in progress).")
  boolean allowIncomplete;

  @Mixin
  CommonOptions common;

  @Mixin
  LayoutOptions layout;

  @Mixin
  MixedDtypesOption dtypes;

  @Mixin
  TensorParallelCheckOptions tpCheck;

  /** Set by the shards report: some rank files are missing. */
  private boolean incomplete;

  @Override
  public Integer call() {
    Output.existingDirectory(directory, "folder");
    boolean shards = ShardsManifest.isPresent(directory);
    boolean torchDist = !shards && TorchDistCheckpoint.isPresent(directory);
    if (shards || torchDist) {
      layout.rejectAll("inspect of a Megatron folder (its layout is the one it was written with)");
    }
    if (hfConfig.given() && !torchDist) {
      throw new UsageException("--hf-config applies to torch_dist checkpoints only; " + directory + " is not one");
    }
    if (verify && !shards && !torchDist) {
      throw new UsageException("--verify checks the checksums of a Megatron folder; "
          + directory + " is an HF folder, whose safetensors files carry none");
    }
    if (tpCheck.requested() && (shards || torchDist)) {
      throw new UsageException("--check-tp checks a blockwise FP8 HF folder; " + directory + " is a Megatron folder");
    }
    Map<String, Object> report = shards ? inspectShards() : torchDist ? inspectTorchDist()
        : inspectHf(directory, layout, dtypes.policy());
    if (common.json) {
      List<Map<String, Object>> tpReport = tpCheck.requested() ? tpCheck.check(directory, true) : null;
      if (tpReport != null) {
        report.put("tp_check", tpReport);
      }
      Output.json(report);
      tpCheck.enforce(tpReport);
    } else {
      print(report, "");
      if (tpCheck.requested()) {
        tpCheck.enforce(tpCheck.check(directory, false));
      }
    }
    return incompleteExitCode();
  }

  /** An incomplete shards folder is bad input (exit 3) unless {@code --allow-incomplete} says it is expected. */
  private int incompleteExitCode() {
    if (!incomplete || allowIncomplete) {
      return 0;
    }
    System.err.println("error: " + directory + ": incomplete shards folder (rank files missing); pass "
        + "--allow-incomplete to accept it");
    return BridgeException.ExitCode.BAD_INPUT.code();
  }

  /** The shards folder's checksum record, verified whole with {@code --verify}. */
  private void checksumReport(MegatronCheckpoint checkpoint, Map<String, Object> report) {
    if (!checkpoint.checksumsRecorded()) {
      report.put("checksums", "no checksums recorded (written by an earlier megabridge)");
      if (verify) {
        throw new CheckpointFormatException(directory + ": --verify: no checksums recorded, nothing can be verified");
      }
      return;
    }
    report.put("source_identity", checkpoint.manifest().sourceIdentity().orElseThrow());
    if (verify) {
      long bytes = checkpoint.verifyAll();
      report.put("checksums", "verified: every rank file's header and tensor CRC-32 match (" + bytes
          + " tensor bytes read)");
    } else {
      report.put("checksums", "recorded (rank, source, CRC-32 of header and tensors); checked as data is read, all "
          + "at once with --verify");
    }
  }

  /** With {@code --verify}: every record of every torch_dist archive read once and its CRC-32 checked. */
  private void torchDistVerification(TorchDistReader reader, Map<String, Object> report) {
    if (!verify) {
      report.put("checksums", "zip CRC-32 of every record; checked as data is read, all at once with --verify");
      return;
    }
    var verification = reader.verifyAll();
    report.put("checksums", "verified: every record's CRC-32 matches (" + verification.archives() + " archives, "
        + verification.bytes() + " bytes read)" + (verification.notArchives().isEmpty() ? ""
            : "; bytes items without checksums (not torch archives): " + verification.notArchives()));
  }

  /** {@link #inspectHf(Path, LayoutOptions, HfDtypes.Policy)} with mixed dtypes an error. */
  static Map<String, Object> inspectHf(Path directory, LayoutOptions layoutOptions) {
    return inspectHf(directory, layoutOptions, MixedDtypesOption.policy(false));
  }

  /** The report for an HF folder: facts, tensors per component, mapping and dtype check, optional per-rank plan. */
  static Map<String, Object> inspectHf(Path directory, LayoutOptions layoutOptions, HfDtypes.Policy dtypePolicy) {
    AutoBridge autoBridge = AutoBridge.discover();
    HfConfig config = HfConfig.load(directory);
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("path", directory.toAbsolutePath().normalize().toString());
    report.put("kind", "huggingface");
    if (!SafetensorsCheckpoint.isPresent(directory)) {
      BridgeModel model = autoBridge.fromConfig(config, Optional.empty(), layoutOptions.bridgeOptions());
      report.put("weights", "none (config only)");
      report.putAll(model.facts());
      long parameters = model.hfTensors().stream().mapToLong(spec -> spec.shape().numel()).sum();
      report.put("parameters", parameters);
      if (!layoutOptions.isDefault()) {
        // Plan from the config alone: every tensor assumed in the provider's params dtype (F32 exceptions kept).
        DType dtype = DType
            .fromTorchName(String.valueOf(model.provider().get("params_dtype")))
            .orElse(DType.F32);
        ShardPlan plan = ShardPlan.fromConfig(model, layoutOptions.layout(), dtype);
        report.put("layout", plan.layout().describe() + " (valid for this model)");
        report.put("assumed_dtype", dtype.name());
        report.put("ranks", rankReport(plan.ranks()));
      }
      return report;
    }
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(directory)) {
      ShardPlan plan = Importer.plan(Fp8DequantizedSource.viewOf(config, checkpoint, DType.BF16),
          checkpoint.fileNames(), directory, config, autoBridge, layoutOptions.layout(), layoutOptions.bridgeOptions(),
          dtypePolicy);
      BridgeModel model = plan.model();
      report.putAll(model.facts());
      report.put("files", checkpoint.files().size());
      Map<String, String> componentOf = new LinkedHashMap<>();
      for (HfTensorSpec spec : model.hfTensors()) {
        componentOf.put(spec.name(), spec.component());
      }
      Map<String, long[]> components = new TreeMap<>();
      Map<String, Integer> dtypes = new TreeMap<>();
      long totalBytes = 0;
      for (HfTensorInfo info : plan.hfTensors().values()) {
        long bytes = info.shape().numel() * info.dtype().byteSize();
        long[] counts = components.computeIfAbsent(componentOf.get(info.name()), name -> new long[2]);
        counts[0]++;
        counts[1] += bytes;
        dtypes.merge(info.dtype().name(), 1, Integer::sum);
        totalBytes += bytes;
      }
      Map<String, Object> byComponent = new LinkedHashMap<>();
      components.forEach((name, counts) -> byComponent.put(name, Output.object("tensors", counts[0], "bytes", counts[1])));
      report.put("tensors", plan.hfTensors().size());
      report.put("bytes", totalBytes);
      report.put("dtypes", dtypes);
      report.put("components", byComponent);
      report.put("mapping", "complete: every tensor maps to Megatron and back");
      if (!layoutOptions.isDefault()) {
        report.put("layout", plan.layout().describe());
        report.put("ranks", rankReport(plan.ranks()));
      }
    }
    return report;
  }

  /** One entry per rank in plan order; {@code index} is what {@code import --ranks} takes. */
  static List<Map<String, Object>> rankReport(List<RankPlan> ranks) {
    return IntStream.range(0, ranks.size()).mapToObj(index -> {
      RankPlan rank = ranks.get(index);
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("index", index);
      entry.put("rank", rank.directory());
      entry.put("tensors", rank.entries().size());
      entry.put("bytes", rank.byteSize());
      return entry;
    }).toList();
  }

  private Map<String, Object> inspectShards() {
    ShardsManifest manifest = ShardsManifest.read(directory);
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("path", directory.toAbsolutePath().normalize().toString());
    report.put("kind", "megatron-shards");
    report.put("architecture", manifest.architecture());
    report.put("bridge", manifest.bridge());
    report.put("layout", manifest.layout().describe());
    report.put("mtp_naming", manifest.options().mtpNaming().innerName());
    report.put("expert_naming", manifest.options().expertNaming().name().toLowerCase(Locale.ROOT));
    report.put("hf_tensors", manifest.hfTensors().size());
    List<String> missing = MegatronCheckpoint.missingRanks(directory, manifest);
    report.put("ranks_total", manifest.ranks().size());
    report.put("ranks_missing", missing);
    List<Integer> missingIndices = IntStream.range(0, manifest.ranks().size())
        .filter(index -> missing.contains(manifest.ranks().get(index).directory())).boxed().toList();
    report.put("ranks_missing_indices", Output.rankList(missingIndices));
    if (missing.isEmpty()) {
      try (MegatronCheckpoint checkpoint = MegatronCheckpoint.open(directory, AutoBridge.discover())) {
        report.putAll(checkpoint.model().facts());
        report.put("ranks", rankReport(checkpoint.plan().ranks()));
        checkpoint.hfTensors();
        checksumReport(checkpoint, report);
        report.put("status", "complete: every rank file matches the plan and every HF tensor can be rebuilt");
      }
    } else {
      incomplete = true;
      report.put("status", "incomplete: " + missing.size() + " rank(s) not written yet");
    }
    return report;
  }

  /** A torch_dist checkpoint: keys and bytes; with a config (sidecar or --hf-config), the full HF rebuild check. */
  private Map<String, Object> inspectTorchDist() {
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("path", directory.toAbsolutePath().normalize().toString());
    report.put("kind", "torch_dist");
    try (var reader = TorchDistReader.open(directory)) {
      long bytes = 0;
      for (String key : reader.tensorKeys()) {
        bytes += reader.shape(key).numel() * reader.dtype(key).byteSize();
      }
      report.put("tensor_keys", reader.tensorKeys().size());
      report.put("object_keys", reader.objectKeys().size());
      report.put("bytes", bytes);
      boolean sidecar = TorchDistSidecar.read(reader.directory()).isPresent();
      report.put("megabridge_sidecar", sidecar);
      torchDistVerification(reader, report);
      if (!sidecar && !hfConfig.given()) {
        report.put("status", "format read; pass --hf-config HF_DIR to check it against a model");
        return report;
      }
    }
    try (var checkpoint = TorchDistCheckpoint.open(directory,
        hfConfig.folder(), AutoBridge.discover())) {
      report.putAll(checkpoint.model().facts());
      report.put("hf_tensors", checkpoint.hfTensors().size());
      report.put("status", "complete: every key maps to the model and every HF tensor can be rebuilt");
    }
    return report;
  }

  /**
   * Prints a report as indented {@code key: value} lines: byte counts with a human-readable size, durations in
   * seconds and other fractions rounded, and a per-rank list as a table with its {@code --ranks} indices and totals.
   */
  @SuppressWarnings("unchecked")
  static void print(Map<String, Object> report, String indent) {
    report.forEach((key, value) -> {
      if (value instanceof Map<?, ?> map) {
        System.out.println(indent + key + ":");
        print((Map<String, Object>) map, indent + "  ");
      } else if (key.equals("ranks") && value instanceof List<?> list && !list.isEmpty()
          && list.getFirst() instanceof Map<?, ?>) {
        printRanks((List<Map<String, Object>>) list, indent);
      } else if (value instanceof List<?> list && !list.isEmpty() && list.getFirst() instanceof Map<?, ?>) {
        System.out.println(indent + key + ":");
        for (Object item : list) {
          System.out.println(indent + "  - " + item);
        }
      } else if (key.equals("bytes") && value instanceof Number bytes) {
        System.out.println(indent + key + ": " + ByteSizes.format(bytes.longValue()) + " (" + bytes + ")");
      } else if (key.endsWith("seconds") && value instanceof Double seconds) {
        System.out.println(indent + key + ": " + String.format(Locale.ROOT, "%.2f s", seconds));
      } else if (value instanceof Double number) {
        System.out.println(indent + key + ": " + String.format(Locale.ROOT, "%.3f", number));
      } else if (value instanceof List<?> list && list.isEmpty() || "".equals(value)) {
        System.out.println(indent + key + ": none");
      } else {
        System.out.println(indent + key + ": " + value);
      }
    });
  }

  /** The per-rank plan as a table: index (as --ranks takes it), folder, tensors, size; then the totals. */
  private static void printRanks(List<Map<String, Object>> ranks, String indent) {
    System.out.println(indent + "ranks: " + ranks.size() + " (indices " + Output.rankList(
        ranks.stream().map(rank -> ((Number) rank.get("index")).intValue()).toList()) + ")");
    String row = indent + "  %5s  %-18s %8s %12s%n";
    System.out.printf(Locale.ROOT, row, "index", "rank", "tensors", "size");
    long tensors = 0;
    long bytes = 0;
    for (Map<String, Object> rank : ranks) {
      long rankTensors = ((Number) rank.get("tensors")).longValue();
      long rankBytes = ((Number) rank.get("bytes")).longValue();
      System.out.printf(Locale.ROOT, row, rank.get("index"), rank.get("rank"), rankTensors, ByteSizes.format(rankBytes));
      tensors += rankTensors;
      bytes += rankBytes;
    }
    System.out.printf(Locale.ROOT, row, "total", "", tensors, ByteSizes.format(bytes));
  }
}
