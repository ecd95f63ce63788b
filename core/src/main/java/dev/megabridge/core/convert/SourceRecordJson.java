package dev.megabridge.core.convert;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.io.SafeNames;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.VocabPadding;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The JSON pieces that both megabridge records of a converted checkpoint hold ({@code megabridge.json} of a shards
 * folder and {@code megabridge-torchdist.json} beside a torch_dist checkpoint): a parallel layout, the naming
 * options, and the HF source (config, small files, tensor list in source order). Readers fail closed: a missing
 * key, an unknown dtype or a wrong JSON type is a {@link CheckpointFormatException} or a
 * {@link dev.megabridge.core.error.ConfigException} naming the file.
 */
public final class SourceRecordJson {

  private SourceRecordJson() {}

  /** Reads {@code file} as a JSON object. */
  public static ObjectNode readObject(Path file) {
    JsonNode root;
    try {
      root = HfConfig.JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw new CheckpointFormatException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
    } catch (CharacterCodingException e) {
      throw new CheckpointFormatException(file + ": not UTF-8 text (a JSON file is expected)", e);
    } catch (IOException e) {
      throw new CheckpointFormatException(file + ": cannot read: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new CheckpointFormatException(file + ": not a JSON object");
    }
    return (ObjectNode) root;
  }

  public static void putLayout(ObjectNode node, ParallelLayout layout) {
    node.put("tp", layout.tp()).put("pp", layout.pp()).put("vpp", layout.vpp()).put("ep", layout.ep())
        .put("etp", layout.etp());
    layout.firstStageLayers().ifPresent(layers -> node.put("pp_first_stage_layers", layers));
    layout.lastStageLayers().ifPresent(layers -> node.put("pp_last_stage_layers", layers));
  }

  /** The recorded layout; one that no conversion could have written is bad data in {@code section}'s file. */
  public static ParallelLayout layout(ConfigSection section) {
    int tp = section.requireInt("tp");
    int pp = section.requireInt("pp");
    int vpp = section.requireInt("vpp");
    int ep = section.requireInt("ep");
    int etp = section.requireInt("etp");
    try {
      return new ParallelLayout(tp, pp, vpp, ep, etp, section.optInt("pp_first_stage_layers"),
          section.optInt("pp_last_stage_layers"));
    } catch (LayoutException e) {
      throw new CheckpointFormatException(section.file() + ": " + section.path() + ": " + e.getMessage()
          + " (the recorded layout is inconsistent; the file was edited or damaged)", e);
    }
  }

  public static void putOptions(ObjectNode root, BridgeOptions options) {
    root.put("schema", options.schema().id());
    root.put("mtp_naming", options.mtpNaming().name().toLowerCase(Locale.ROOT));
    root.put("experts", options.expertNaming().name().toLowerCase(Locale.ROOT));
    ObjectNode padding = root.putObject("vocab_padding");
    switch (options.vocabPadding()) {
      case VocabPadding.None _ -> padding.put("kind", "none");
      case VocabPadding.Multiple multiple -> padding.put("kind", "multiple").put("divisor", multiple.divisor())
          .put("tensor_parallel", multiple.tensorParallel());
      case VocabPadding.Exactly exactly -> padding.put("kind", "exactly").put("rows", exactly.rows());
    }
  }

  /**
   * The recorded options. Files written before the slime schema existed have neither {@code schema} nor
   * {@code vocab_padding}: they are Megatron-Bridge schema without padding.
   */
  public static BridgeOptions options(ConfigSection top) {
    Schema schema;
    try {
      schema = Schema.ofId(top.stringOr("schema", Schema.MEGATRON_BRIDGE.id()));
    } catch (IllegalArgumentException e) {
      throw top.invalid("schema", e.getMessage());
    }
    VocabPadding padding = top.section("vocab_padding").map(SourceRecordJson::vocabPadding)
        .orElse(VocabPadding.none());
    return new BridgeOptions(schema, named(top, "mtp_naming", MtpNaming.class), named(top, "experts", ExpertNaming.class),
        padding);
  }

  private static VocabPadding vocabPadding(ConfigSection section) {
    String kind = section.optString("kind").orElseThrow(() -> section.missing("kind"));
    try {
      return switch (kind) {
        case "none" -> VocabPadding.none();
        case "multiple" -> new VocabPadding.Multiple(section.requireInt("divisor"), section.requireInt("tensor_parallel"));
        case "exactly" -> new VocabPadding.Exactly(section.optLong("rows").orElseThrow(() -> section.missing("rows")));
        default -> throw section.invalid("kind", "'" + kind + "' is not one of none, multiple, exactly");
      };
    } catch (IllegalArgumentException e) {
      throw section.invalid("kind", e.getMessage());
    }
  }

  /** The constant of {@code type} named (in any case) by the string at {@code key}; an error naming the key if none. */
  private static <E extends Enum<E>> E named(ConfigSection top, String key, Class<E> type) {
    String name = top.optString(key).orElseThrow(() -> top.missing(key));
    for (E constant : type.getEnumConstants()) {
      if (constant.name().equalsIgnoreCase(name)) {
        return constant;
      }
    }
    throw top.invalid(key, "'" + name + "' is not one of " + Arrays.stream(type.getEnumConstants())
        .map(constant -> constant.name().toLowerCase(Locale.ROOT)).toList());
  }

  /** {@code hf_config}, {@code hf_files} and {@code hf_tensors} (name, dtype, file, shape). */
  public static void putHfSource(ObjectNode root, ObjectNode hfConfig, List<String> hfFiles,
      List<HfTensorInfo> hfTensors) {
    root.set("hf_config", hfConfig);
    ArrayNode files = root.putArray("hf_files");
    hfFiles.forEach(files::add);
    ArrayNode tensors = root.putArray("hf_tensors");
    for (HfTensorInfo info : hfTensors) {
      ObjectNode node = tensors.addObject();
      node.put("name", info.name()).put("dtype", info.dtype().name()).put("file", info.file());
      putShape(node, info.shape());
    }
  }

  /** The recorded {@code hf_config} as an {@link HfConfig} whose errors name {@code file}. */
  public static HfConfig asHfConfig(Path file, ObjectNode hfConfig) {
    return new HfConfig(file, hfConfig,
        new ConfigSection(file, "hf_config", hfConfig).optStringList("architectures").orElse(List.of()));
  }

  public static ObjectNode hfConfig(ConfigSection top) {
    return top.section("hf_config").orElseThrow(() -> top.missing("hf_config")).node();
  }

  /** The small files' names, each a plain name inside {@code hf/} ({@link SafeNames}). */
  public static List<String> hfFiles(ConfigSection top) {
    List<String> names = top.optStringList("hf_files").orElse(List.of());
    names.forEach(name -> SafeNames.requirePlainName(top.file(), "hf_files entry", name));
    return names;
  }

  public static List<HfTensorInfo> hfTensors(Path file, ObjectNode root) {
    List<HfTensorInfo> tensors = new ArrayList<>();
    for (JsonNode node : array(file, root, "hf_tensors")) {
      ConfigSection entry = new ConfigSection(file, "hf_tensors[]", object(file, node));
      tensors.add(new HfTensorInfo(entry.optString("name").orElseThrow(() -> entry.missing("name")),
          dtype(file, entry), shape(entry), SafeNames.requirePlainName(file, "hf_tensors[].file",
              entry.optString("file").orElseThrow(() -> entry.missing("file")))));
    }
    return tensors;
  }

  public static void putShape(ObjectNode node, Shape shape) {
    ArrayNode dims = node.putArray("shape");
    shape.toList().forEach(dims::add);
  }

  public static Shape shape(ConfigSection entry) {
    return Shape.of(entry.optLongList("shape").orElseThrow(() -> entry.missing("shape")));
  }

  public static DType dtype(Path file, ConfigSection entry) {
    String name = entry.optString("dtype").orElseThrow(() -> entry.missing("dtype"));
    return DType.fromSafetensorsName(name)
        .orElseThrow(() -> new CheckpointFormatException(file + ": unknown dtype '" + name + "'"));
  }

  public static Iterable<JsonNode> array(Path file, JsonNode node, String key) {
    JsonNode value = node.get(key);
    if (value == null || !value.isArray()) {
      throw new CheckpointFormatException(file + ": '" + key + "' must be a list");
    }
    return value;
  }

  public static ObjectNode object(Path file, JsonNode node) {
    if (!node.isObject()) {
      throw new CheckpointFormatException(file + ": expected an object, got " + node);
    }
    return (ObjectNode) node;
  }
}
