package dev.megabridge.core.convert.torchdist;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.HfExpertLayout;
import dev.megabridge.core.convert.HfFiles;
import dev.megabridge.core.convert.HfTensorInfo;
import dev.megabridge.core.convert.ShardEntry;
import dev.megabridge.core.convert.ShardPlan;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsFile;
import dev.megabridge.core.io.torchdist.TorchDistReader;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.quant.Fp8DequantizedSource;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.VocabPadding;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A torch_dist checkpoint opened as the HF tensors it holds — ours (with {@link TorchDistSidecar}) or
 * Megatron's (any Megatron ≥ v0.16 save, legacy {@code common.pt} or v0.19 common state, any TP/EP chunking,
 * given an HF config). Opening resolves every Megatron parameter of the model to its keys (accepting both
 * MTP namings, docs/formats.md §3.14) and fails with the complete list of missing and unused keys;
 * {@link #hfTensors()} are lazy views over the memory-mapped data files, with vocabulary padding rows dropped
 * (docs/formats.md §3.15) and the inverse transforms of the mappings applied. Optimizer, RNG and
 * {@code _extra_state} items are never read (docs/formats.md §3.17).
 */
public final class TorchDistCheckpoint implements AutoCloseable {

  private static final String TRACKER_FILE = "latest_checkpointed_iteration.txt";
  private static final String PLACEHOLDER_FILE = SafetensorsCheckpoint.SINGLE_FILE;
  private static final int MAX_LISTED = 40;

  /**
   * How the HF view of a checkpoint megabridge did not write (no sidecar) is built from {@code --hf-config}'s
   * folder. By default every tensor gets the dtype the HF source has it in: the folder's safetensors headers
   * when it holds weights (whose names, order, file split and expert layout, main decoder and MTP each, are
   * then followed too), else the config's {@code dtype} / {@code torch_dtype} (top level, then
   * {@code text_config}) with the bridge's float32-by-design tensors ({@link BridgeModel#keepsFloat32}) F32; a
   * config naming no dtype leaves the stored dtypes. Without weights the experts are per-expert (see
   * {@link HfExpertLayout#relayout} for another layout).
   *
   * @param storedDtypes every tensor in the dtype Megatron stored it in instead ({@code export --dtype keep})
   */
  public record HfView(boolean storedDtypes) {

    /** The HF source's dtypes. */
    public static HfView ofSource() {
      return new HfView(false);
    }
  }

  /** A parameter's placement and the checkpoint keys it is read from (one per section for {@link DistForm.Sections}). */
  private record Resolved(DistPlacement placement, List<String> keys, ShardEntry entry) {}

  private final TorchDistReader reader;
  private final Schema schema;
  private final TorchDistScheme scheme;
  /** The exact values of narrowed parameters ({@link TorchDistSidecar#NARROWED_FILE}), opened on first use. */
  private Optional<SafetensorsFile> narrowed;
  private final Arena arena = Arena.ofShared();
  private final HfConfig config;
  private final Path smallFilesDirectory;
  private final List<String> smallFiles;
  private final boolean recordedSource;
  private final boolean recordedFiles;
  private final ShardPlan plan;
  private final Map<String, Tensor> assembled = new HashMap<>();
  private final LinkedHashMap<String, Tensor> hfTensors;
  private final List<HfTensorInfo> hfTensorInfos;

  private TorchDistCheckpoint(TorchDistReader reader, HfConfig config, Path smallFilesDirectory,
      List<String> smallFiles, Optional<TorchDistSidecar> sidecar, Optional<List<HfTensorInfo>> hfWeights,
      HfView view, AutoBridge autoBridge) {
    this.reader = reader;
    this.config = config;
    this.smallFilesDirectory = smallFilesDirectory;
    this.smallFiles = List.copyOf(smallFiles);
    this.recordedSource = sidecar.isPresent();
    this.recordedFiles = sidecar.isPresent() || hfWeights.isPresent();
    Optional<List<HfTensorInfo>> listed = sidecar.map(TorchDistSidecar::hfTensors).or(() -> hfWeights);
    Optional<Set<String>> names = listed.map(recorded -> new LinkedHashSet<>(
        recorded.stream().map(HfTensorInfo::name).toList()));
    this.schema = SchemaDetection.detect(reader.directory(), reader.tensorKeys(), config, names, autoBridge);
    if (sidecar.isPresent() && sidecar.get().options().schema() != schema) {
      throw new CheckpointFormatException(reader.directory() + ": " + TorchDistSidecar.FILE_NAME + " records the "
          + sidecar.get().options().schema().id() + " schema, but the keys are " + schema.id() + " keys");
    }
    // Padding rows are dropped on read whatever their number (docs/formats.md §3.15), so the plan expects the bare
    // vocabulary.
    BridgeOptions options = sidecar.map(TorchDistSidecar::options).orElse(BridgeOptions.forSchema(schema))
        .withVocabPadding(VocabPadding.none());
    BridgeModel model = autoBridge.fromConfig(config, names, options);
    List<HfTensorInfo> infos = listed.orElseGet(() -> specInfos(model));
    Map<String, HfTensorInfo> infoMap = new LinkedHashMap<>();
    infos.forEach(info -> infoMap.put(info.name(), info));
    this.plan = ShardPlan.build(model, ParallelLayout.single(), infoMap);
    this.scheme = TorchDistScheme.of(model);
    Map<MegatronParam, Resolved> resolved = resolve(scheme);
    this.hfTensors = gather(resolved, infos);
    if (!recordedSource && !view.storedDtypes()) {
      Map<String, DType> dtypes = hfWeights.map(TorchDistCheckpoint::dtypesOf).orElseGet(() -> configDtypes(model));
      hfTensors.replaceAll((name, tensor) -> inSourceDtype(name, tensor, dtypes));
    }
    this.hfTensorInfos = infos.stream().map(info -> {
      Tensor tensor = hfTensors.get(info.name());
      return new HfTensorInfo(info.name(), tensor.dtype(), tensor.shape(), info.file());
    }).toList();
  }

  /** Whether {@code directory} looks like a torch_dist save folder or checkpoint folder (docs/formats.md §3.4). */
  public static boolean isPresent(Path directory) {
    return Files.isRegularFile(directory.resolve(TRACKER_FILE)) || Files.isRegularFile(directory.resolve(".metadata"));
  }

  /**
   * Opens the save folder or checkpoint folder {@code path}. The HF config and small files come from
   * {@code hfConfigDirectory} when given, else from the sidecar megabridge recorded on import.
   */
  public static TorchDistCheckpoint open(Path path, Optional<Path> hfConfigDirectory, AutoBridge autoBridge) {
    return open(path, hfConfigDirectory, HfView.ofSource(), autoBridge);
  }

  /** {@link #open(Path, Optional, AutoBridge)} with the HF view of a checkpoint without sidecar built as {@code view} says. */
  public static TorchDistCheckpoint open(Path path, Optional<Path> hfConfigDirectory, HfView view,
      AutoBridge autoBridge) {
    TorchDistReader reader = TorchDistReader.open(path);
    try {
      Optional<TorchDistSidecar> sidecar = TorchDistSidecar.read(reader.directory());
      if (hfConfigDirectory.isPresent()) {
        Path hf = hfConfigDirectory.get();
        HfConfig config = HfConfig.load(hf);
        // With our sidecar, its recorded tensor list rules; the folder's weights are not read.
        Optional<List<HfTensorInfo>> weights = sidecar.isEmpty() && SafetensorsCheckpoint.isPresent(hf)
            ? Optional.of(weightInfos(hf, config)) : Optional.empty();
        return new TorchDistCheckpoint(reader, config, hf, HfFiles.smallFiles(hf), sidecar, weights, view,
            autoBridge);
      }
      if (sidecar.isEmpty()) {
        throw new UsageException(reader.directory() + " has no " + TorchDistSidecar.FILE_NAME
            + " (not written by megabridge); pass --hf-config with the model's HF folder");
      }
      return new TorchDistCheckpoint(reader, sidecar.get().config(reader.directory()),
          reader.directory().resolve(TorchDistSidecar.HF_FILES_DIR), sidecar.get().hfFiles(), sidecar, Optional.empty(),
          view, autoBridge);
    } catch (RuntimeException e) {
      reader.close();
      throw e;
    }
  }

  /** Without a recorded tensor list: the model's own HF tensors, dtypes taken from the checkpoint later. */
  private static List<HfTensorInfo> specInfos(BridgeModel model) {
    List<HfTensorInfo> out = new ArrayList<>();
    for (HfTensorSpec spec : model.hfTensors()) {
      out.add(new HfTensorInfo(spec.name(), DType.F32, spec.shape(), PLACEHOLDER_FILE));
    }
    return out;
  }

  /** The tensors of the HF folder {@code hf} from its headers (an FP8 folder as its bf16 view), in its order. */
  private static List<HfTensorInfo> weightInfos(Path hf, HfConfig config) {
    try (SafetensorsCheckpoint files = SafetensorsCheckpoint.open(hf)) {
      TensorSource view = Fp8DequantizedSource.viewOf(config, files, DType.BF16);
      return List.copyOf(HfTensorInfo.of(view, files.fileNames()).values());
    }
  }

  private static Map<String, DType> dtypesOf(List<HfTensorInfo> infos) {
    Map<String, DType> out = new HashMap<>();
    infos.forEach(info -> out.put(info.name(), info.dtype()));
    return out;
  }

  /** The config's weights dtype for every tensor, F32 for those the bridge keeps in float32; none named: empty. */
  private Map<String, DType> configDtypes(BridgeModel model) {
    Optional<DType> declared = configDtype();
    Map<String, DType> out = new HashMap<>();
    declared.ifPresent(dtype -> model.hfTensors().forEach(spec ->
        out.put(spec.name(), model.keepsFloat32(spec.name()) ? DType.F32 : dtype)));
    return out;
  }

  /** {@code dtype}, {@code torch_dtype}, {@code text_config.dtype}, {@code text_config.torch_dtype}: the first set. */
  private Optional<DType> configDtype() {
    for (String section : List.of("", "text_config")) {
      JsonNode node = section.isEmpty() ? config.raw() : config.raw().get(section);
      for (String key : List.of("dtype", "torch_dtype")) {
        JsonNode value = node == null ? null : node.get(key);
        if (value == null || value.isNull()) {
          continue;
        }
        Optional<DType> dtype = value.isTextual() ? DType.fromTorchName(value.textValue()) : Optional.empty();
        if (dtype.isEmpty()) {
          throw new ConfigException(config.file() + ": " + (section.isEmpty() ? key : section + "." + key) + " is "
              + value + ", not a floating dtype megabridge writes (bfloat16, float16, float32, float64)");
        }
        return dtype;
      }
    }
    return Optional.empty();
  }

  /** {@code tensor} converted to the HF source's dtype of {@code name}, when both are floating and differ. */
  private Tensor inSourceDtype(String name, Tensor tensor, Map<String, DType> dtypes) {
    DType wanted = dtypes.get(name);
    if (wanted == null || wanted == tensor.dtype()) {
      return tensor;
    }
    if (!wanted.isFloating() || !tensor.dtype().isFloating()) {
      throw new ShapeMismatchException(reader.directory() + ": " + name + " is stored as " + tensor.dtype()
          + " but the HF source (" + smallFilesDirectory + ") has it as " + wanted + "; only floating dtypes convert");
    }
    return tensor.convert(wanted);
  }

  private Map<MegatronParam, Resolved> resolve(TorchDistScheme scheme) {
    Map<String, ShardEntry> entries = new HashMap<>();
    plan.ranks().getFirst().entries().forEach(entry -> entries.put(entry.param().name(), entry));
    Map<MegatronParam, Resolved> out = new LinkedHashMap<>();
    List<String> missing = new ArrayList<>();
    Set<String> used = new LinkedHashSet<>();
    for (MegatronParam param : plan.ownedParams().keySet()) {
      DistPlacement placement = scheme.place(param);
      List<String> keys = new ArrayList<>();
      for (String key : placement.form().storedKeys()) {
        Optional<String> found = scheme.readCandidates(key).stream().filter(reader::contains).findFirst();
        if (found.isEmpty()) {
          missing.add(key + " (for " + param.name() + ")");
        } else {
          keys.add(found.get());
          used.add(found.get());
        }
      }
      out.put(param, new Resolved(placement, keys, entries.get(param.name())));
    }
    List<String> unused = reader.tensorKeys().stream().filter(key -> !used.contains(key)).toList();
    if (!missing.isEmpty() || !unused.isEmpty()) {
      StringBuilder message = new StringBuilder(reader.directory() + " does not match "
          + plan.model().architecture() + " as configured by " + config.file() + ":");
      appendList(message, "keys the model needs but the checkpoint lacks", new ArrayList<>(new LinkedHashSet<>(missing)));
      appendList(message, "tensor keys no model parameter reads", unused);
      throw new CheckpointFormatException(message.toString());
    }
    return out;
  }

  private static void appendList(StringBuilder message, String title, List<String> names) {
    if (names.isEmpty()) {
      return;
    }
    message.append("\n  ").append(names.size()).append(' ').append(title).append(':');
    names.subList(0, Math.min(MAX_LISTED, names.size())).forEach(name -> message.append("\n    ").append(name));
    if (names.size() > MAX_LISTED) {
      message.append("\n    ... and ").append(names.size() - MAX_LISTED).append(" more");
    }
  }

  private LinkedHashMap<String, Tensor> gather(Map<MegatronParam, Resolved> resolved, List<HfTensorInfo> infos) {
    Map<String, Tensor> produced = plan.gatherHf((param, mapping) ->
        List.of(fullTensor(param, resolved.get(param))));
    LinkedHashMap<String, Tensor> ordered = new LinkedHashMap<>();
    for (HfTensorInfo info : infos) {
      Tensor tensor = produced.remove(info.name());
      if (tensor == null) {
        throw new MappingException(reader.directory() + ": no Megatron parameter produces " + info.name());
      }
      if (!tensor.shape().equals(info.shape()) || (recordedSource && tensor.dtype() != info.dtype())) {
        throw new ShapeMismatchException(info.name() + ": rebuilt as " + tensor.dtype() + tensor.shape()
            + ", expected " + (recordedSource ? info.dtype().toString() : "") + info.shape());
      }
      ordered.put(info.name(), tensor);
    }
    if (!produced.isEmpty()) {
      throw new MappingException(reader.directory() + ": produced HF tensors the model does not have: "
          + produced.keySet());
    }
    return ordered;
  }

  /** The full TP=1 Megatron tensor of {@code param}, checked against the planned shape (and dtype, if recorded). */
  private Tensor fullTensor(MegatronParam param, Resolved resolved) {
    Shape expected = resolved.entry().shape();
    Tensor read = switch (resolved.placement().form()) {
      case DistForm.Whole whole -> {
        Tensor stored = stored(resolved.keys().getFirst());
        // Megatron pads the vocabulary to a multiple of make_vocab_size_divisible_by × TP (docs/formats.md §3.15).
        boolean padded = resolved.placement().vocabulary() && stored.shape().rank() == expected.rank()
            && stored.shape().dim(0) > expected.dim(0)
            && stored.shape().withDim(0, expected.dim(0)).equals(expected);
        yield padded ? stored.slice(0, 0, expected.dim(0)) : stored;
      }
      case DistForm.SwigluHalves _ -> stored(resolved.keys().getFirst());
      case DistForm.Sections sections -> {
        List<Tensor> parts = new ArrayList<>();
        for (int index = 0; index < sections.sections().size(); index++) {
          String key = resolved.keys().get(index);
          Tensor part = stored(key);
          long rows = sections.sections().get(index).rows();
          if (part.shape().rank() == 0 || part.shape().dim(0) != rows) {
            throw new ShapeMismatchException(where(key) + " has shape " + part.shape() + ", expected " + rows + " rows");
          }
          parts.add(part);
        }
        yield Tensor.concat(0, parts);
      }
      case DistForm.Stacked stacked -> {
        String key = resolved.keys().getFirst();
        Tensor all = stored(key);
        if (all.shape().rank() == 0 || all.shape().dim(0) != stacked.count()) {
          throw new ShapeMismatchException(where(key) + " has shape " + all.shape() + ", expected a leading axis of "
              + stacked.count());
        }
        yield all.select(stacked.index());
      }
    };
    Tensor full = read;
    if (recordedSource && full.dtype() != resolved.entry().dtype()
        && scheme.storedDtype(param, resolved.entry().dtype()) == full.dtype() && full.shape().equals(expected)) {
      full = widened(param, full, resolved.entry().dtype());
    }
    if (!full.shape().equals(expected) || (recordedSource && full.dtype() != resolved.entry().dtype())) {
      throw new ShapeMismatchException(where(String.join(", ", resolved.keys())) + ": read " + full.dtype()
          + full.shape() + " for " + param.name() + ", the model needs " + (recordedSource
          ? resolved.entry().dtype().toString() : "") + expected);
    }
    return full;
  }

  /**
   * A parameter the scheme stored narrower than its source: the recorded exact value where the stored one is
   * still its rounding (unchanged since import), else the stored value widened.
   */
  private Tensor widened(MegatronParam param, Tensor stored, DType sourceDtype) {
    if (narrowed == null) {
      Path file = reader.directory().resolve(TorchDistSidecar.NARROWED_FILE);
      narrowed = Files.isRegularFile(file) ? Optional.of(SafetensorsFile.open(file, arena)) : Optional.empty();
    }
    Optional<StridedTensor> original = narrowed.filter(file -> file.entries().containsKey(param.name()))
        .map(file -> file.tensor(param.name()));
    if (original.isPresent() && original.get().dtype() == sourceDtype && original.get().shape().equals(stored.shape())
        && Tensor.contentEquals(original.get().convert(stored.dtype()), stored)) {
      return original.get();
    }
    return stored.convert(sourceDtype);
  }

  /** The schema the keys were written for. */
  public Schema schema() {
    return schema;
  }

  private String where(String key) {
    return reader.directory() + " [" + key + "]";
  }

  /** The global tensor of a key, assembled once from its chunks (experts and layers select from it). */
  private Tensor stored(String key) {
    return assembled.computeIfAbsent(key, reader::tensor);
  }

  /** The folder holding {@code .metadata}. */
  public Path directory() {
    return reader.directory();
  }

  public HfConfig config() {
    return config;
  }

  public BridgeModel model() {
    return plan.model();
  }

  /** The HF tensors in the recorded source order (or the model's order), as lazy views. */
  public LinkedHashMap<String, Tensor> hfTensors() {
    return new LinkedHashMap<>(hfTensors);
  }

  /** Name, dtype, shape and (recorded, or {@code model.safetensors}) file of every HF tensor. */
  public List<HfTensorInfo> hfTensorInfos() {
    return hfTensorInfos;
  }

  /** Whether the HF tensor list (order, dtypes, files) was recorded by megabridge's import. */
  public boolean recordedSource() {
    return recordedSource;
  }

  /** Whether the HF tensors carry a real file split: recorded by import, or read from the HF folder's weights. */
  public boolean recordedFiles() {
    return recordedFiles;
  }

  public Path smallFilesDirectory() {
    return smallFilesDirectory;
  }

  public List<String> smallFiles() {
    return smallFiles;
  }

  @Override
  public void close() {
    reader.close();
    arena.close();
  }
}
