package dev.megabridge.core.quant;

import dev.megabridge.core.tensor.Fp8BlockQuantized;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The HF view of a model turned into a blockwise FP8 checkpoint (docs/formats.md §5): each weight the policy
 * quantizes becomes its {@code F8_E4M3} codes followed by its {@code F32} scales under {@link Fp8Config#scaleName};
 * everything else passes through. Lazy: nothing is read until the tensors are streamed, and streaming a weight
 * before its scales (the order of {@link #tensors()}) reads the source once.
 *
 * @param tensors the output tensors in write order
 * @param quantized names of the quantized weights
 * @param config the {@code quantization_config}; {@code modules_to_not_convert} lists the module of every
 *     {@code .weight} left in high precision
 */
public record Fp8Quantization(LinkedHashMap<String, Tensor> tensors, List<String> quantized, Fp8Config config) {

  public Fp8Quantization {
    quantized = List.copyOf(quantized);
  }

  public static Fp8Quantization of(Map<String, Tensor> hfTensors, Fp8Policy policy, int blockRows,
      int blockColumns) {
    Fp8BlockQuantizer quantizer = new Fp8BlockQuantizer(blockRows, blockColumns);
    LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
    List<String> quantized = new ArrayList<>();
    List<String> notConverted = new ArrayList<>();
    hfTensors.forEach((name, tensor) -> {
      boolean eligible = tensor.dtype().isFloating() && tensor.shape().rank() >= 2;
      if (eligible && policy.quantizes(name)) {
        Fp8BlockQuantized blocks = new Fp8BlockQuantized(tensor, quantizer);
        out.put(name, blocks.codes());
        out.put(Fp8Config.scaleName(name), blocks.scales());
        quantized.add(name);
      } else {
        out.put(name, tensor);
        if (name.endsWith(".weight")) {
          notConverted.add(name.substring(0, name.length() - ".weight".length()));
        }
      }
    });
    return new Fp8Quantization(out, quantized, new Fp8Config(blockRows, blockColumns, notConverted));
  }
}
