package dev.megabridge.core.convert;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.torchdist.TorchDistCheckpoint;
import dev.megabridge.core.convert.torchdist.TorchDistSidecar;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.torchdist.TorchDistReader;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.quant.Fp8DequantizedSource;
import dev.megabridge.core.quant.TensorParallelReport;
import dev.megabridge.core.report.KeyValueReport;
import dev.megabridge.core.report.RankList;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.tensor.DType;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * What {@code inspect} finds in a folder, checked completely: an HF folder (or a config-only folder), a megabridge
 * shards folder or a torch_dist checkpoint. Each report carries the bridge's facts about the model ({@code facts},
 * written among the report's keys) and is printed as {@code key: value} lines.
 */
public final class Inspection {
  private Inspection() {}

  /** The size of one component's HF tensors (embedding, language_model, visual, ...). */
  public record ComponentSize(long tensors, long bytes) {}

  /** One rank of a plan; {@code index} is what {@code import --ranks} takes. */
  public record RankSize(int index, String rank, int tensors, long bytes) {}

  /**
   * An HF folder: with weights, their files, tensors, bytes, dtypes, sizes per component and the mapping check;
   * config-only ({@code weights} says so), the parameter count; with a layout other than the default, the per-rank
   * plan ({@code assumedDtype}: the dtype a config-only plan assumes). Absent parts are null and not written.
   * {@code tpCheck}: the {@code --check-tp} verdicts, added to the JSON form only.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonPropertyOrder({"path", "kind", "weights", "facts"})
  public record Hf(Path path, String weights, @JsonAnyGetter Map<String, Object> facts, Long parameters,
      Integer files, Integer tensors, Long bytes, Map<String, Integer> dtypes, Map<String, ComponentSize> components,
      String mapping, String layout, String assumedDtype, List<RankSize> ranks, TensorParallelReport tpCheck)
      implements KeyValueReport {

    @JsonProperty("kind")
    public String kind() {
      return "huggingface";
    }

    public Hf withTpCheck(TensorParallelReport tpCheck) {
      return new Hf(path, weights, facts, parameters, files, tensors, bytes, dtypes, components, mapping, layout,
          assumedDtype, ranks, tpCheck);
    }
  }

  /**
   * A shards folder: its manifest, the ranks not written yet and, when none is missing, the model's facts, the
   * per-rank plan and the checksum record ({@code sourceIdentity} null when none is recorded).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonPropertyOrder({"path", "kind", "architecture", "bridge", "layout", "mtp_naming", "expert_naming", "hf_tensors",
      "ranks_total", "ranks_missing", "ranks_missing_indices", "facts"})
  public record Shards(Path path, String architecture, String bridge, String layout, String mtpNaming,
      String expertNaming, int hfTensors, int ranksTotal, List<String> ranksMissing, String ranksMissingIndices,
      @JsonAnyGetter Map<String, Object> facts, List<RankSize> ranks, String sourceIdentity, String checksums,
      String status) implements KeyValueReport {

    @JsonProperty("kind")
    public String kind() {
      return "megatron-shards";
    }

    /** Every rank file is written. */
    public boolean complete() {
      return ranksMissing.isEmpty();
    }
  }

  /**
   * A torch_dist checkpoint: keys and bytes, whether megabridge's sidecar is there, the checksum record; with a
   * config (sidecar or {@code --hf-config}), the model's facts and the HF rebuild check.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @JsonPropertyOrder({"path", "kind", "tensor_keys", "object_keys", "bytes", "megabridge_sidecar", "checksums",
      "facts"})
  public record TorchDist(Path path, int tensorKeys, int objectKeys, long bytes, boolean megabridgeSidecar,
      String checksums, @JsonAnyGetter Map<String, Object> facts, Integer hfTensors, String status)
      implements KeyValueReport {

    @JsonProperty("kind")
    public String kind() {
      return "torch_dist";
    }
  }

  /** An HF folder (or config-only folder) checked against its bridge; a layout other than the default is planned. */
  public static Hf hf(Path directory, ParallelLayout layout, boolean defaultLayout, BridgeOptions bridgeOptions,
      HfDtypes.Policy dtypePolicy, AutoBridge autoBridge) {
    HfConfig config = HfConfig.load(directory);
    if (!SafetensorsCheckpoint.isPresent(directory)) {
      BridgeModel model = autoBridge.fromConfig(config, Optional.empty(), bridgeOptions);
      long parameters = model.hfTensors().stream().mapToLong(spec -> spec.shape().numel()).sum();
      if (defaultLayout) {
        return new Hf(directory, "none (config only)", model.facts(), parameters, null, null, null, null, null, null,
            null, null, null, null);
      }
      // Plan from the config alone: every tensor assumed in the provider's params dtype (F32 exceptions kept).
      DType dtype = DType.fromTorchName(String.valueOf(model.provider().get("params_dtype"))).orElse(DType.F32);
      ShardPlan plan = ShardPlan.fromConfig(model, layout, dtype);
      return new Hf(directory, "none (config only)", model.facts(), parameters, null, null, null, null, null, null,
          plan.layout().describe() + " (valid for this model)", dtype.name(), rankSizes(plan.ranks()), null);
    }
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(directory)) {
      ShardPlan plan = Importer.plan(Fp8DequantizedSource.viewOf(config, checkpoint, DType.BF16),
          checkpoint.fileNames(), directory, config, autoBridge, layout, bridgeOptions, dtypePolicy);
      BridgeModel model = plan.model();
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
      Map<String, ComponentSize> byComponent = new LinkedHashMap<>();
      components.forEach((name, counts) -> byComponent.put(name, new ComponentSize(counts[0], counts[1])));
      return new Hf(directory, null, model.facts(), null, checkpoint.files().size(), plan.hfTensors().size(),
          totalBytes, dtypes, byComponent, "complete: every tensor maps to Megatron and back",
          defaultLayout ? null : plan.layout().describe(), null, defaultLayout ? null : rankSizes(plan.ranks()), null);
    }
  }

  /** One entry per rank in plan order. */
  static List<RankSize> rankSizes(List<RankPlan> ranks) {
    return IntStream.range(0, ranks.size()).mapToObj(index -> new RankSize(index, ranks.get(index).directory(),
        ranks.get(index).entries().size(), ranks.get(index).byteSize())).toList();
  }

  /**
   * A shards folder: the manifest, which ranks are missing and, when none is, the full check of every rank file
   * against the plan and of every HF tensor; with {@code verify}, every checksum read and checked.
   */
  public static Shards shards(Path directory, boolean verify, AutoBridge autoBridge) {
    ShardsManifest manifest = ShardsManifest.read(directory);
    List<String> missing = MegatronCheckpoint.missingRanks(directory, manifest);
    String missingIndices = RankList.format(IntStream.range(0, manifest.ranks().size())
        .filter(index -> missing.contains(manifest.ranks().get(index).directory())).boxed().toList());
    String layout = manifest.layout().describe();
    String mtpNaming = manifest.options().mtpNaming().innerName();
    String expertNaming = manifest.options().expertNaming().name().toLowerCase(Locale.ROOT);
    if (!missing.isEmpty()) {
      return new Shards(directory, manifest.architecture(), manifest.bridge(), layout, mtpNaming, expertNaming,
          manifest.hfTensors().size(), manifest.ranks().size(), missing, missingIndices, Map.of(), null, null, null,
          "incomplete: " + missing.size() + " rank(s) not written yet");
    }
    try (MegatronCheckpoint checkpoint = MegatronCheckpoint.open(directory, autoBridge)) {
      // The model's facts name the architecture and bridge too; as one JSON object they replace the manifest's.
      Map<String, Object> facts = new LinkedHashMap<>(checkpoint.model().facts());
      String architecture = facts.containsKey("architecture") ? (String) facts.remove("architecture")
          : manifest.architecture();
      String bridge = facts.containsKey("bridge") ? (String) facts.remove("bridge") : manifest.bridge();
      List<RankSize> ranks = rankSizes(checkpoint.plan().ranks());
      checkpoint.hfTensors();
      String sourceIdentity = null;
      String checksums;
      if (!checkpoint.checksumsRecorded()) {
        if (verify) {
          throw new CheckpointFormatException(directory + ": --verify: no checksums recorded, nothing can be verified");
        }
        checksums = "no checksums recorded (written by an earlier megabridge)";
      } else {
        sourceIdentity = checkpoint.manifest().sourceIdentity().orElseThrow();
        checksums = verify ? "verified: every rank file's header and tensor CRC-32 match (" + checkpoint.verifyAll()
            + " tensor bytes read)" : "recorded (rank, source, CRC-32 of header and tensors); checked as data is "
            + "read, all at once with --verify";
      }
      return new Shards(directory, architecture, bridge, layout, mtpNaming, expertNaming, manifest.hfTensors().size(),
          manifest.ranks().size(), missing, missingIndices, facts, ranks, sourceIdentity, checksums,
          "complete: every rank file matches the plan and every HF tensor can be rebuilt");
    }
  }

  /**
   * A torch_dist checkpoint: keys and bytes; with a config (the sidecar's or {@code hfConfig}), the full HF rebuild
   * check; with {@code verify}, every record of every archive read once and its CRC-32 checked.
   */
  public static TorchDist torchDist(Path directory, Optional<Path> hfConfig, boolean verify, AutoBridge autoBridge) {
    int tensorKeys;
    int objectKeys;
    long bytes = 0;
    boolean sidecar;
    String checksums;
    try (var reader = TorchDistReader.open(directory)) {
      for (String key : reader.tensorKeys()) {
        bytes += reader.shape(key).numel() * reader.dtype(key).byteSize();
      }
      tensorKeys = reader.tensorKeys().size();
      objectKeys = reader.objectKeys().size();
      sidecar = TorchDistSidecar.read(reader.directory()).isPresent();
      if (verify) {
        var verification = reader.verifyAll();
        checksums = "verified: every record's CRC-32 matches (" + verification.archives() + " archives, "
            + verification.bytes() + " bytes read)" + (verification.notArchives().isEmpty() ? ""
                : "; bytes items without checksums (not torch archives): " + verification.notArchives());
      } else {
        checksums = "zip CRC-32 of every record; checked as data is read, all at once with --verify";
      }
    }
    if (!sidecar && hfConfig.isEmpty()) {
      return new TorchDist(directory, tensorKeys, objectKeys, bytes, false, checksums, Map.of(), null,
          "format read; pass --hf-config HF_DIR to check it against a model");
    }
    try (var checkpoint = TorchDistCheckpoint.open(directory, hfConfig, autoBridge)) {
      return new TorchDist(directory, tensorKeys, objectKeys, bytes, sidecar, checksums, checkpoint.model().facts(),
          checkpoint.hfTensors().size(), "complete: every key maps to the model and every HF tensor can be rebuilt");
    }
  }
}
