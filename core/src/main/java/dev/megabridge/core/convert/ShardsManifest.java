package dev.megabridge.core.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.io.SafeNames;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code megabridge.json} of a Megatron shards folder: format version, layout, naming options, the source
 * HF config and small files, the source HF tensor list (names, dtypes, shapes, files, in source order) and
 * the per-rank tensor manifest, and the source's identity ({@link SourceIdentity}; empty for folders written before
 * it was recorded). A folder with a source identity has a {@link RankChecksums} file in every rank folder and the
 * rank and source in every rank file's {@code __metadata__}, which readers check; a folder without one (written by
 * an earlier megabridge) stays readable, without checksums.
 */
public record ShardsManifest(
    int formatVersion,
    String architecture,
    String bridge,
    ParallelLayout layout,
    BridgeOptions options,
    ObjectNode hfConfig,
    List<String> hfFiles,
    List<HfTensorInfo> hfTensors,
    ObjectNode provider,
    List<RankManifest> ranks,
    Optional<String> sourceIdentity) {

  public static final String FILE_NAME = "megabridge.json";
  public static final String HF_FILES_DIR = "hf";
  public static final String RANK_FILE = "model.safetensors";
  public static final int FORMAT_VERSION = 1;

  public ShardsManifest(int formatVersion, String architecture, String bridge, ParallelLayout layout,
      BridgeOptions options, ObjectNode hfConfig, List<String> hfFiles, List<HfTensorInfo> hfTensors,
      ObjectNode provider, List<RankManifest> ranks) {
    this(formatVersion, architecture, bridge, layout, options, hfConfig, hfFiles, hfTensors, provider, ranks,
        Optional.empty());
  }

  public ShardsManifest {
    hfFiles = List.copyOf(hfFiles);
    hfTensors = List.copyOf(hfTensors);
    ranks = List.copyOf(ranks);
  }

  /** One rank file's expected content. */
  public record RankManifest(String directory, int tp, int pp, int ep, List<LocalTensor> tensors) {
    public RankManifest {
      tensors = List.copyOf(tensors);
    }
  }

  /** A tensor of a rank file. */
  public record LocalTensor(String name, DType dtype, Shape shape) {}

  public Map<String, HfTensorInfo> hfTensorMap() {
    Map<String, HfTensorInfo> out = new LinkedHashMap<>();
    for (HfTensorInfo info : hfTensors) {
      out.put(info.name(), info);
    }
    return out;
  }

  public HfConfig config(Path directory) {
    return SourceRecordJson.asHfConfig(directory.resolve(FILE_NAME), hfConfig);
  }

  public String toJson() {
    ObjectNode root = HfConfig.JSON.createObjectNode();
    root.put("format", "megabridge-megatron-shards");
    root.put("format_version", formatVersion);
    root.put("architecture", architecture);
    root.put("bridge", bridge);
    sourceIdentity.ifPresent(identity -> root.put("source_identity", identity));
    SourceRecordJson.putLayout(root.putObject("layout"), layout);
    SourceRecordJson.putOptions(root, options);
    SourceRecordJson.putHfSource(root, hfConfig, hfFiles, hfTensors);
    root.set("provider", provider);
    ArrayNode rankArray = root.putArray("ranks");
    for (RankManifest rank : ranks) {
      ObjectNode node = rankArray.addObject();
      node.put("directory", rank.directory()).put("tp", rank.tp()).put("pp", rank.pp()).put("ep", rank.ep());
      ArrayNode list = node.putArray("tensors");
      for (LocalTensor tensor : rank.tensors()) {
        ObjectNode entry = list.addObject();
        entry.put("name", tensor.name()).put("dtype", tensor.dtype().name());
        SourceRecordJson.putShape(entry, tensor.shape());
      }
    }
    return root.toPrettyString() + "\n";
  }

  public static boolean isPresent(Path directory) {
    return Files.isRegularFile(directory.resolve(FILE_NAME));
  }

  public static ShardsManifest read(Path directory) {
    Path file = directory.resolve(FILE_NAME);
    if (!Files.isRegularFile(file)) {
      throw new CheckpointFormatException(directory + ": no " + FILE_NAME + " (not a megabridge Megatron folder)");
    }
    ObjectNode root = SourceRecordJson.readObject(file);
    try {
      ConfigSection top = new ConfigSection(file, "", root);
      int version = top.requireInt("format_version");
      if (version != FORMAT_VERSION) {
        throw new CheckpointFormatException(file + ": format_version " + version + " is not supported (expected "
            + FORMAT_VERSION + ")");
      }
      ParallelLayout layout = SourceRecordJson.layout(
          top.section("layout").orElseThrow(() -> top.missing("layout")));
      BridgeOptions options = SourceRecordJson.options(top);
      ObjectNode config = SourceRecordJson.hfConfig(top);
      List<String> hfFiles = SourceRecordJson.hfFiles(top);
      List<HfTensorInfo> hfTensors = SourceRecordJson.hfTensors(file, root);
      ObjectNode provider = top.section("provider").map(ConfigSection::node).orElse(HfConfig.JSON.createObjectNode());
      List<RankManifest> ranks = new ArrayList<>();
      for (JsonNode node : SourceRecordJson.array(file, root, "ranks")) {
        ConfigSection entry = new ConfigSection(file, "ranks[]", SourceRecordJson.object(file, node));
        List<LocalTensor> tensors = new ArrayList<>();
        for (JsonNode tensorNode : SourceRecordJson.array(file, node, "tensors")) {
          ConfigSection tensor = new ConfigSection(file, "ranks[].tensors[]", SourceRecordJson.object(file, tensorNode));
          tensors.add(new LocalTensor(tensor.optString("name").orElseThrow(() -> tensor.missing("name")),
              SourceRecordJson.dtype(file, tensor), SourceRecordJson.shape(tensor)));
        }
        ranks.add(new RankManifest(SafeNames.requirePlainName(file, "ranks[].directory",
                entry.optString("directory").orElseThrow(() -> entry.missing("directory"))),
            entry.requireInt("tp"), entry.requireInt("pp"), entry.requireInt("ep"), tensors));
      }
      return new ShardsManifest(version, top.stringOr("architecture", ""), top.stringOr("bridge", ""), layout,
          options, config, hfFiles, hfTensors, provider, ranks, top.optString("source_identity"));
    } catch (ConfigException e) {
      // ConfigSection's messages already start with the file.
      throw new CheckpointFormatException(e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new CheckpointFormatException(file + ": " + e.getMessage(), e);
    }
  }
}
