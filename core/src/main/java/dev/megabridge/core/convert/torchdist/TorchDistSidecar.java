package dev.megabridge.core.convert.torchdist;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.HfTensorInfo;
import dev.megabridge.core.convert.SourceRecordJson;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What megabridge records beside a torch_dist checkpoint it wrote, so that export needs no HF folder:
 * {@code megabridge-torchdist.json} in the checkpoint folder (the HF config, the naming options, the
 * layout that was asked for, the source's tensor list with dtypes, shapes and files, in source order) and
 * the source's small files in {@code hf/} beside it, and {@link #NARROWED_FILE} where the scheme narrowed a dtype.
 * Megatron and DCP ignore them.
 *
 * @param requestedLayout the layout the import was asked for; the chunking is always TP=1 (docs/formats.md §3.9) and
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
  /**
   * The exact source values of parameters the scheme stored narrower (slime's BF16 {@code A_log}), by Megatron
   * name: a read gives them back where the stored value is still their rounding, i.e. unchanged by training.
   */
  public static final String NARROWED_FILE = "megabridge-narrowed.safetensors";
  public static final String FORMAT = "megabridge-torch-dist";
  public static final int FORMAT_VERSION = 1;

  public TorchDistSidecar {
    hfFiles = List.copyOf(hfFiles);
    hfTensors = List.copyOf(hfTensors);
  }

  /** The recorded config as an {@link HfConfig} located at the sidecar file. */
  public HfConfig config(Path checkpointDirectory) {
    return SourceRecordJson.asHfConfig(checkpointDirectory.resolve(FILE_NAME), hfConfig);
  }

  public String toJson() {
    ObjectNode root = HfConfig.JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("format_version", FORMAT_VERSION);
    root.put("architecture", architecture);
    root.put("bridge", bridge);
    SourceRecordJson.putLayout(root.putObject("requested_layout"), requestedLayout);
    SourceRecordJson.putOptions(root, options);
    SourceRecordJson.putHfSource(root, hfConfig, hfFiles, hfTensors);
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
    ObjectNode root = SourceRecordJson.readObject(file);
    try {
      ConfigSection top = new ConfigSection(file, "", root);
      if (!FORMAT.equals(top.stringOr("format", "")) || top.requireInt("format_version") != FORMAT_VERSION) {
        throw new CheckpointFormatException(file + ": not a " + FORMAT + " version " + FORMAT_VERSION + " file");
      }
      ParallelLayout requested = SourceRecordJson.layout(
          top.section("requested_layout").orElseThrow(() -> top.missing("requested_layout")));
      return Optional.of(new TorchDistSidecar(top.stringOr("architecture", ""), top.stringOr("bridge", ""), requested,
          SourceRecordJson.options(top), SourceRecordJson.hfConfig(top), SourceRecordJson.hfFiles(top),
          SourceRecordJson.hfTensors(file, root)));
    } catch (ConfigException e) {
      // ConfigSection's messages already start with the file.
      throw new CheckpointFormatException(e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new CheckpointFormatException(file + ": " + e.getMessage(), e);
    }
  }
}
