package dev.megabridge.core.convert.torchdist;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.HfTensorInfo;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What megabridge records beside a torch_dist checkpoint it wrote, so that export needs no HF folder:
 * {@code megabridge-torchdist.json} in the checkpoint folder (the HF config, the naming options, the
 * layout that was asked for, the source's tensor list with dtypes, shapes and files, in source order) and
 * the source's small files in {@code hf/} beside it. Megatron and DCP ignore both.
 *
 * @param requestedLayout the layout the import was asked for; the chunking is always TP=1 (spec §5.7) and
 *     Megatron reshards on load
 */
public record TorchDistSidecar(
    String architecture,
    String bridge,
    ParallelLayout requestedLayout,
    BridgeOptions options,
    ObjectNode hfConfig,
    List<String> hfFiles,
    List<HfTensorInfo> hfTensors) {

  public static final String FILE_NAME = "megabridge-torchdist.json";
  public static final String HF_FILES_DIR = "hf";
  public static final String FORMAT = "megabridge-torch-dist";
  public static final int FORMAT_VERSION = 1;

  public TorchDistSidecar {
    hfFiles = List.copyOf(hfFiles);
    hfTensors = List.copyOf(hfTensors);
  }

  /** The recorded config as an {@link HfConfig} located at the sidecar file. */
  public HfConfig config(Path checkpointDirectory) {
    Path file = checkpointDirectory.resolve(FILE_NAME);
    return new HfConfig(file, hfConfig,
        new ConfigSection(file, "hf_config", hfConfig).optStringList("architectures").orElse(List.of()));
  }

  public String toJson() {
    ObjectNode root = HfConfig.JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("format_version", FORMAT_VERSION);
    root.put("architecture", architecture);
    root.put("bridge", bridge);
    ObjectNode layout = root.putObject("requested_layout");
    layout.put("tp", requestedLayout.tp()).put("pp", requestedLayout.pp()).put("vpp", requestedLayout.vpp())
        .put("ep", requestedLayout.ep()).put("etp", requestedLayout.etp());
    requestedLayout.firstStageLayers().ifPresent(layers -> layout.put("pp_first_stage_layers", layers));
    requestedLayout.lastStageLayers().ifPresent(layers -> layout.put("pp_last_stage_layers", layers));
    root.put("mtp_naming", options.mtpNaming().name().toLowerCase(Locale.ROOT));
    root.put("experts", options.expertNaming().name().toLowerCase(Locale.ROOT));
    root.set("hf_config", hfConfig);
    ArrayNode files = root.putArray("hf_files");
    hfFiles.forEach(files::add);
    ArrayNode tensors = root.putArray("hf_tensors");
    for (HfTensorInfo info : hfTensors) {
      ObjectNode node = tensors.addObject();
      node.put("name", info.name()).put("dtype", info.dtype().name()).put("file", info.file());
      ArrayNode shape = node.putArray("shape");
      info.shape().toList().forEach(shape::add);
    }
    return root.toPrettyString() + "\n";
  }

  /** Writes the JSON file and copies the small files from {@code smallFilesFrom} into {@code directory}. */
  public void write(Path directory, Path smallFilesFrom) {
    try {
      Files.writeString(directory.resolve(FILE_NAME), toJson(), StandardCharsets.UTF_8);
      Path hf = Files.createDirectories(directory.resolve(HF_FILES_DIR));
      for (String name : hfFiles) {
        Files.copy(smallFilesFrom.resolve(name), hf.resolve(name));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + FILE_NAME + " in " + directory + ": " + e.getMessage(), e);
    }
  }

  /** The sidecar of the checkpoint folder {@code directory}, if megabridge wrote one. */
  public static Optional<TorchDistSidecar> read(Path directory) {
    Path file = directory.resolve(FILE_NAME);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    JsonNode root;
    try {
      root = HfConfig.JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw new CheckpointFormatException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new CheckpointFormatException(file + ": cannot read: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new CheckpointFormatException(file + ": not a JSON object");
    }
    try {
      ConfigSection top = new ConfigSection(file, "", (ObjectNode) root);
      if (!FORMAT.equals(top.stringOr("format", "")) || top.requireInt("format_version") != FORMAT_VERSION) {
        throw new CheckpointFormatException(file + ": not a " + FORMAT + " version " + FORMAT_VERSION + " file");
      }
      ConfigSection layout = top.section("requested_layout").orElseThrow(() -> top.missing("requested_layout"));
      ParallelLayout requested = new ParallelLayout(layout.requireInt("tp"), layout.requireInt("pp"),
          layout.requireInt("vpp"), layout.requireInt("ep"), layout.requireInt("etp"),
          layout.optInt("pp_first_stage_layers"), layout.optInt("pp_last_stage_layers"));
      BridgeOptions options = new BridgeOptions(
          MtpNaming.valueOf(top.optString("mtp_naming").orElseThrow(() -> top.missing("mtp_naming"))
              .toUpperCase(Locale.ROOT)),
          ExpertNaming.valueOf(top.optString("experts").orElseThrow(() -> top.missing("experts"))
              .toUpperCase(Locale.ROOT)));
      ObjectNode config = top.section("hf_config").orElseThrow(() -> top.missing("hf_config")).node();
      List<HfTensorInfo> tensors = new ArrayList<>();
      JsonNode list = root.get("hf_tensors");
      if (list == null || !list.isArray()) {
        throw new CheckpointFormatException(file + ": 'hf_tensors' must be a list");
      }
      for (JsonNode node : list) {
        if (!node.isObject()) {
          throw new CheckpointFormatException(file + ": hf_tensors entry " + node + " is not an object");
        }
        ConfigSection entry = new ConfigSection(file, "hf_tensors[]", (ObjectNode) node);
        String dtypeName = entry.optString("dtype").orElseThrow(() -> entry.missing("dtype"));
        DType dtype = DType.fromSafetensorsName(dtypeName).orElseThrow(() ->
            new CheckpointFormatException(file + ": unknown dtype '" + dtypeName + "'"));
        tensors.add(new HfTensorInfo(entry.optString("name").orElseThrow(() -> entry.missing("name")), dtype,
            Shape.of(entry.optLongList("shape").orElseThrow(() -> entry.missing("shape"))),
            entry.optString("file").orElseThrow(() -> entry.missing("file"))));
      }
      return Optional.of(new TorchDistSidecar(top.stringOr("architecture", ""), top.stringOr("bridge", ""), requested,
          options, config, top.optStringList("hf_files").orElse(List.of()), tensors));
    } catch (ConfigException | IllegalArgumentException e) {
      throw new CheckpointFormatException(file + ": " + e.getMessage(), e);
    }
  }
}
