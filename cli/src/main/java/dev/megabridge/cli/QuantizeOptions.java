package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.quant.Fp8Blocks;
import java.util.Optional;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/** {@code --quantize fp8-block [--block-size ROWSxCOLUMNS]} of the commands that write HF weights. */
public final class QuantizeOptions {

  /** The quantization formats megabridge writes. */
  enum Quantization {
    FP8_BLOCK;

    static final class Converter implements ITypeConverter<Quantization> {
      @Override
      public Quantization convert(String value) {
        if (value.equals("fp8-block")) {
          return FP8_BLOCK;
        }
        throw new UsageException("--quantize must be fp8-block, got '" + value + "'");
      }
    }
  }

  @Option(names = "--quantize", converter = Quantization.Converter.class,
      description = "fp8-block: the model's FP8 rule set as blockwise e4m3 with float32 scales (weight_scale_inv).")
  Quantization quantize;

  @Option(names = "--block-size", description = "FP8 block, ROWSxCOLUMNS (default 128x128).")
  String blockSize;

  Optional<Fp8Blocks> blocks() {
    if (quantize == null) {
      if (blockSize != null) {
        throw new UsageException("--block-size applies to --quantize fp8-block only");
      }
      return Optional.empty();
    }
    return Optional.of(blockSize == null ? Fp8Blocks.DEFAULT : Fp8Blocks.parse(blockSize));
  }
}
