package dev.megabridge.core.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.ConfigFiles;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dtype rule of an HF checkpoint: every floating tensor has the checkpoint's dtype, except the tensors
 * the bridge keeps in float32 by design ({@link BridgeModel#keepsFloat32}), which are F32 or the checkpoint's
 * dtype. The checkpoint's dtype is the one most floating non-exception tensors have. On export with a
 * requested dtype the exceptions stay F32 and {@code config.json} is made to name the requested dtype.
 */
public final class HfDtypes {

  /** The config keys that name the weights' dtype, at the top level and in {@code text_config}. */
  private static final List<String> CONFIG_KEYS = List.of("dtype", "torch_dtype");
  private static final List<String> CONFIG_SECTIONS = List.of("", "text_config");

  private static final Logger LOG = LoggerFactory.getLogger(HfDtypes.class);

  /**
   * @param allowMixed accept tensors outside the rule (reported as one warning) instead of failing
   * @param warnings receives one line per finding that is not an error (a config dtype that disagrees); the CLI
   *     prints them on stderr
   */
  public record Policy(boolean allowMixed, Consumer<String> warnings) {

    /** Mixed dtypes are an error; warnings are logged (library callers that pass no sink of their own). */
    public static Policy strict() {
      return new Policy(false, LOG::warn);
    }
  }

  private HfDtypes() {}

  /**
   * Checks the tensors {@code infos} of the HF folder {@code directory} against the rule and the dtype its
   * config names. A tensor outside the rule is a {@link CheckpointFormatException} naming it, its dtype, the
   * checkpoint's dtype and its file, unless {@code policy.allowMixed()}; a config dtype that differs from the
   * weights' is a warning naming both. Returns the checkpoint's dtype (empty without floating tensors).
   */
  public static Optional<DType> check(BridgeModel model, Collection<HfTensorInfo> infos, Path directory,
      Policy policy) {
    Optional<DType> weights = weightsDtype(model, infos);
    if (weights.isEmpty()) {
      return weights;
    }
    DType expected = weights.get();
    List<HfTensorInfo> outliers = new ArrayList<>();
    long ruled = 0;
    for (HfTensorInfo info : infos) {
      if (!info.dtype().isFloating()) {
        continue;
      }
      ruled++;
      boolean allowed = info.dtype() == expected || model.keepsFloat32(info.name()) && info.dtype() == DType.F32;
      if (!allowed) {
        outliers.add(info);
      }
    }
    if (!outliers.isEmpty()) {
      HfTensorInfo first = outliers.getFirst();
      String message = directory.resolve(first.file()) + ": tensor '" + first.name() + "' is " + first.dtype()
          + " but the checkpoint's weights are " + expected + " (" + (ruled - outliers.size()) + " of " + ruled
          + " floating tensors" + (model.keepsFloat32(first.name()) ? "; this one may also be F32" : "") + ")"
          + (outliers.size() > 1 ? "; " + (outliers.size() - 1) + " more tensor(s) differ" : "");
      if (!policy.allowMixed()) {
        throw new CheckpointFormatException(message + "; pass --allow-mixed-dtypes to accept mixed dtypes");
      }
      policy.warnings().accept(message + " (accepted: --allow-mixed-dtypes)");
    }
    HfConfig config = model.config();
    for (String section : CONFIG_SECTIONS) {
      JsonNode node = section.isEmpty() ? config.raw() : config.raw().get(section);
      if (node == null || !node.isObject()) {
        continue;
      }
      for (String key : CONFIG_KEYS) {
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
          continue;
        }
        String where = section.isEmpty() ? key : section + "." + key;
        Optional<DType> declared = value.isTextual() ? DType.fromTorchName(value.textValue()) : Optional.empty();
        if (declared.isEmpty() || declared.get() != expected) {
          policy.warnings().accept(config.file() + ": " + where + " is " + value + " but the weights are " + expected
              + " (" + torchName(expected) + ")");
        }
      }
    }
    return weights;
  }

  /**
   * The dtype most floating tensors have, not counting the float32-by-design ones (unless nothing else is
   * floating); ties go to the dtype with more bytes, then to the one seen first.
   */
  static Optional<DType> weightsDtype(BridgeModel model, Collection<HfTensorInfo> infos) {
    Map<DType, long[]> counts = new EnumMap<>(DType.class);
    Map<DType, long[]> exceptionCounts = new EnumMap<>(DType.class);
    List<DType> order = new ArrayList<>();
    for (HfTensorInfo info : infos) {
      if (!info.dtype().isFloating()) {
        continue;
      }
      Map<DType, long[]> target = model.keepsFloat32(info.name()) ? exceptionCounts : counts;
      long[] count = target.computeIfAbsent(info.dtype(), dtype -> new long[2]);
      count[0]++;
      count[1] += info.shape().numel() * info.dtype().byteSize();
      if (!order.contains(info.dtype())) {
        order.add(info.dtype());
      }
    }
    Map<DType, long[]> ruling = counts.isEmpty() ? exceptionCounts : counts;
    DType best = null;
    for (DType dtype : order) {
      long[] count = ruling.get(dtype);
      if (count == null) {
        continue;
      }
      long[] bestCount = best == null ? null : ruling.get(best);
      if (bestCount == null || count[0] > bestCount[0] || count[0] == bestCount[0] && count[1] > bestCount[1]) {
        best = dtype;
      }
    }
    return Optional.ofNullable(best);
  }

  /**
   * {@code tensor} as exported under the requested {@code dtype}: floating tensors converted, except a tensor
   * the bridge keeps in float32 by design, which stays F32 when it is F32.
   */
  public static Tensor forExport(BridgeModel model, String name, Tensor tensor, Optional<DType> dtype) {
    if (dtype.isEmpty() || !tensor.dtype().isFloating()
        || tensor.dtype() == DType.F32 && model.keepsFloat32(name)) {
      return tensor;
    }
    return tensor.convert(dtype.get());
  }

  /** The spelling transformers writes in {@code config.json}: bfloat16, float32, .... */
  public static String torchName(DType dtype) {
    return switch (dtype) {
      case BF16 -> "bfloat16";
      case F16 -> "float16";
      case F32 -> "float32";
      case F64 -> "float64";
      default -> dtype.name().toLowerCase(Locale.ROOT);
    };
  }

  /** With a requested {@code dtype}, makes the exported {@code folder/config.json} (when there is one) name it. */
  public static void matchConfig(Path folder, Optional<DType> dtype) {
    Path config = folder.resolve(HfConfig.FILE_NAME);
    if (dtype.isPresent() && Files.isRegularFile(config)) {
      writeConfigDtype(config, dtype.get());
    }
  }

  /**
   * Makes {@code configFile} name {@code dtype}: the top-level {@code dtype} is set (added when absent), and
   * {@code torch_dtype} and the same keys in {@code text_config} / {@code vision_config} are set where present.
   * Written as transformers writes configs (two-space indent); every other key is kept.
   */
  public static void writeConfigDtype(Path configFile, DType dtype) {
    String name = torchName(dtype);
    ConfigFiles.rewrite(configFile, root -> {
      root.put("dtype", name);
      if (root.has("torch_dtype")) {
        root.put("torch_dtype", name);
      }
      for (String section : List.of("text_config", "vision_config")) {
        if (root.get(section) instanceof ObjectNode sub) {
          for (String key : CONFIG_KEYS) {
            if (sub.has(key)) {
              sub.put(key, name);
            }
          }
        }
      }
    });
  }
}
