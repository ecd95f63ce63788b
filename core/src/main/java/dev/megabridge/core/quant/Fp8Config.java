package dev.megabridge.core.quant;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.core.config.HfConfig;
import java.util.List;
import java.util.Optional;

/**
 * The {@code quantization_config} of a blockwise FP8 HF folder (docs/formats.md §5.1).
 *
 * @param modulesNotConverted module names (weight names without {@code .weight}) left in high precision
 */
public record Fp8Config(int blockRows, int blockColumns, List<String> modulesNotConverted) {
  public static final String KEY = "quantization_config";

  public Fp8Config {
    modulesNotConverted = List.copyOf(modulesNotConverted);
    if (blockRows < 1 || blockColumns < 1) {
      throw new IllegalArgumentException("block size " + blockRows + "x" + blockColumns);
    }
  }

  public Fp8BlockQuantizer quantizer() {
    return new Fp8BlockQuantizer(blockRows, blockColumns);
  }

  /**
   * The FP8 settings of {@code config}, empty when it has no {@code quantization_config}. Anything but blockwise
   * e4m3 FP8 with dynamic activations and a two-number block size is an error naming the key.
   */
  public static Optional<Fp8Config> of(HfConfig config) {
    Optional<ConfigSection> section = config.top().section(KEY);
    if (section.isEmpty()) {
      return Optional.empty();
    }
    ConfigSection quantization = section.get();
    String method = quantization.optString("quant_method").orElseThrow(() -> quantization.missing("quant_method"));
    if (!method.equals("fp8")) {
      throw quantization.invalid("quant_method", "'" + method + "' is not supported (only blockwise 'fp8')");
    }
    String format = quantization.optString("fmt").orElseThrow(() -> quantization.missing("fmt"));
    if (!format.equals("e4m3")) {
      throw quantization.invalid("fmt", "'" + format + "' is not supported (only 'e4m3')");
    }
    String activations = quantization.stringOr("activation_scheme", "dynamic");
    if (!activations.equals("dynamic")) {
      throw quantization.invalid("activation_scheme", "'" + activations + "' is not supported (only 'dynamic')");
    }
    List<Integer> block = quantization.optIntList("weight_block_size")
        .orElseThrow(() -> quantization.missing("weight_block_size"));
    if (block.size() != 2 || block.get(0) < 1 || block.get(1) < 1) {
      throw quantization.invalid("weight_block_size", "expected two positive sizes, got " + block);
    }
    return Optional.of(new Fp8Config(block.get(0), block.get(1),
        quantization.optStringList("modules_to_not_convert").orElse(List.of())));
  }

  /** Sets this {@code quantization_config} in {@code config} (replacing any present one); returns {@code config}. */
  public ObjectNode writeInto(ObjectNode config) {
    ObjectNode quantization = HfConfig.JSON.createObjectNode();
    quantization.put("quant_method", "fp8");
    quantization.put("fmt", "e4m3");
    quantization.put("activation_scheme", "dynamic");
    quantization.putArray("weight_block_size").add(blockRows).add(blockColumns);
    ArrayNode modules = quantization.putArray("modules_to_not_convert");
    modulesNotConverted.forEach(modules::add);
    config.set(KEY, quantization);
    return config;
  }

  /**
   * The scale tensor's name for weight {@code name}: the name plus {@code _scale_inv}, which gives
   * {@code X.weight_scale_inv} for a linear weight and {@code experts.gate_up_proj_scale_inv} for packed experts.
   */
  public static String scaleName(String name) {
    return name + "_scale_inv";
  }

  public static boolean isScaleName(String name) {
    return name.endsWith("_scale_inv");
  }

  /** The weight a scale belongs to. */
  public static String weightOfScale(String scaleName) {
    return scaleName.substring(0, scaleName.length() - "_scale_inv".length());
  }
}
