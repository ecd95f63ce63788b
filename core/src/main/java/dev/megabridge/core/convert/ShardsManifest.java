package dev.megabridge.core.convert;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code megabridge.json} of a Megatron shards folder: format version, layout, naming options, the source
 * HF config and small files, the source HF tensor list (names, dtypes, shapes, files, in source order) and
 * the per-rank tensor manifest.
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
    List<RankManifest> ranks) {

  public static final String FILE_NAME = "megabridge.json";
  public static final String HF_FILES_DIR = "hf";
  public static final String RANK_FILE = "model.safetensors";
  public static final int FORMAT_VERSION = 1;

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
    return new HfConfig(directory.resolve(FILE_NAME), hfConfig, new ConfigSection(directory.resolve(FILE_NAME),
        "hf_config", hfConfig).optStringList("architectures").orElse(List.of()));
  }

  public String toJson() {
    ObjectNode root = HfConfig.JSON.createObjectNode();
    root.put("format", "megabridge-megatron-shards");
    root.put("format_version", formatVersion);
    root.put("architecture", architecture);
    root.put("bridge", bridge);
    ObjectNode layoutNode = root.putObject("layout");
    layoutNode.put("tp", layout.tp()).put("pp", layout.pp()).put("vpp", layout.vpp()).put("ep", layout.ep())
        .put("etp", layout.etp());
    layout.firstStageLayers().ifPresent(layers -> layoutNode.put("pp_first_stage_layers", layers));
    layout.lastStageLayers().ifPresent(layers -> layoutNode.put("pp_last_stage_layers", layers));
    root.put("mtp_naming", options.mtpNaming().name().toLowerCase(java.util.Locale.ROOT));
    root.put("experts", options.expertNaming().name().toLowerCase(java.util.Locale.ROOT));
    root.set("hf_config", hfConfig);
    ArrayNode files = root.putArray("hf_files");
    hfFiles.forEach(files::add);
    ArrayNode tensors = root.putArray("hf_tensors");
    for (HfTensorInfo info : hfTensors) {
      ObjectNode node = tensors.addObject();
      node.put("name", info.name()).put("dtype", info.dtype().name()).put("file", info.file());
      ArrayNode shape = node.putArray("shape");
      for (long dim : info.shape().toArray()) {
        shape.add(dim);
      }
    }
    root.set("provider", provider);
    ArrayNode rankArray = root.putArray("ranks");
    for (RankManifest rank : ranks) {
      ObjectNode node = rankArray.addObject();
      node.put("directory", rank.directory()).put("tp", rank.tp()).put("pp", rank.pp()).put("ep", rank.ep());
      ArrayNode list = node.putArray("tensors");
      for (LocalTensor tensor : rank.tensors()) {
        ObjectNode entry = list.addObject();
        entry.put("name", tensor.name()).put("dtype", tensor.dtype().name());
        ArrayNode shape = entry.putArray("shape");
        for (long dim : tensor.shape().toArray()) {
          shape.add(dim);
        }
      }
    }
    return root.toPrettyString() + "\n";
  }

  public static boolean isPresent(Path directory) {
    return Files.isRegularFile(directory.resolve(FILE_NAME));
  }

  public static ShardsManifest read(Path directory) {
    Path file = directory.resolve(FILE_NAME);
    JsonNode root;
    try {
      root = HfConfig.JSON.readTree(Files.readString(file));
    } catch (NoSuchFileException e) {
      throw new CheckpointFormatException(directory + ": no " + FILE_NAME + " (not a megabridge Megatron folder)");
    } catch (JsonProcessingException e) {
      throw new CheckpointFormatException(file + ": not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new CheckpointFormatException(file + ": cannot read: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new CheckpointFormatException(file + ": not a JSON object");
    }
    try {
      ConfigSection top = new ConfigSection(file, "", (ObjectNode) root);
      int version = top.requireInt("format_version");
      if (version != FORMAT_VERSION) {
        throw new CheckpointFormatException(file + ": format_version " + version + " is not supported (expected "
            + FORMAT_VERSION + ")");
      }
      ConfigSection layoutSection = top.section("layout").orElseThrow(() -> top.missing("layout"));
      ParallelLayout layout = new ParallelLayout(layoutSection.requireInt("tp"), layoutSection.requireInt("pp"),
          layoutSection.requireInt("vpp"), layoutSection.requireInt("ep"), layoutSection.requireInt("etp"),
          layoutSection.optInt("pp_first_stage_layers"), layoutSection.optInt("pp_last_stage_layers"));
      BridgeOptions options = new BridgeOptions(
          MtpNaming.valueOf(top.optString("mtp_naming").orElseThrow(() -> top.missing("mtp_naming"))
              .toUpperCase(java.util.Locale.ROOT)),
          ExpertNaming.valueOf(top.optString("experts").orElseThrow(() -> top.missing("experts"))
              .toUpperCase(java.util.Locale.ROOT)));
      ObjectNode config = top.section("hf_config").orElseThrow(() -> top.missing("hf_config")).node();
      List<String> hfFiles = top.optStringList("hf_files").orElse(List.of());
      List<HfTensorInfo> hfTensors = new ArrayList<>();
      for (JsonNode node : array(file, root, "hf_tensors")) {
        ConfigSection entry = new ConfigSection(file, "hf_tensors[]", object(file, node));
        hfTensors.add(new HfTensorInfo(entry.optString("name").orElseThrow(() -> entry.missing("name")),
            dtype(file, entry), shape(entry), entry.stringOr("file", "model.safetensors")));
      }
      ObjectNode provider = top.section("provider").map(ConfigSection::node).orElse(HfConfig.JSON.createObjectNode());
      List<RankManifest> ranks = new ArrayList<>();
      for (JsonNode node : array(file, root, "ranks")) {
        ConfigSection entry = new ConfigSection(file, "ranks[]", object(file, node));
        List<LocalTensor> tensors = new ArrayList<>();
        for (JsonNode tensorNode : array(file, node, "tensors")) {
          ConfigSection tensor = new ConfigSection(file, "ranks[].tensors[]", object(file, tensorNode));
          tensors.add(new LocalTensor(tensor.optString("name").orElseThrow(() -> tensor.missing("name")),
              dtype(file, tensor), shape(tensor)));
        }
        ranks.add(new RankManifest(entry.optString("directory").orElseThrow(() -> entry.missing("directory")),
            entry.requireInt("tp"), entry.requireInt("pp"), entry.requireInt("ep"), tensors));
      }
      return new ShardsManifest(version, top.stringOr("architecture", ""), top.stringOr("bridge", ""), layout,
          options, config, hfFiles, hfTensors, provider, ranks);
    } catch (ConfigException | IllegalArgumentException e) {
      throw new CheckpointFormatException(file + ": " + e.getMessage(), e);
    }
  }

  private static Iterable<JsonNode> array(Path file, JsonNode node, String key) {
    JsonNode value = node.get(key);
    if (value == null || !value.isArray()) {
      throw new CheckpointFormatException(file + ": '" + key + "' must be a list");
    }
    return value;
  }

  private static ObjectNode object(Path file, JsonNode node) {
    if (!node.isObject()) {
      throw new CheckpointFormatException(file + ": expected an object, got " + node);
    }
    return (ObjectNode) node;
  }

  private static DType dtype(Path file, ConfigSection entry) {
    String name = entry.optString("dtype").orElseThrow(() -> entry.missing("dtype"));
    Optional<DType> dtype = DType.fromSafetensorsName(name);
    return dtype.orElseThrow(() -> new CheckpointFormatException(file + ": unknown dtype '" + name + "'"));
  }

  private static Shape shape(ConfigSection entry) {
    List<Long> dims = entry.optLongList("shape").orElseThrow(() -> entry.missing("shape"));
    return Shape.of(dims);
  }
}
