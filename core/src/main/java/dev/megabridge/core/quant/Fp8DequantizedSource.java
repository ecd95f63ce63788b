package dev.megabridge.core.quant;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Fp8DequantizedTensor;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A blockwise FP8 checkpoint seen as plain weights (docs/formats.md §5): every {@code F8_E4M3} tensor is read
 * through its {@code *_scale_inv} as {@code target}, the scales themselves disappear from the names, and every
 * other tensor passes through. Opening checks the pairing: an FP8 weight without its scale, a scale of the wrong
 * dtype or shape, or a scale without an FP8 weight is an error naming the file and the tensor.
 */
public final class Fp8DequantizedSource implements TensorSource {
  private final TensorSource source;
  private final Fp8Config config;
  private final DType target;
  /** Weight name → scale name, for the FP8 weights. */
  private final Map<String, String> scales;
  private final List<String> names;

  private Fp8DequantizedSource(TensorSource source, Fp8Config config, DType target, Map<String, String> scales,
      List<String> names) {
    this.source = source;
    this.config = config;
    this.target = target;
    this.scales = scales;
    this.names = names;
  }

  public static Fp8DequantizedSource of(TensorSource source, Fp8Config config, DType target) {
    if (target != DType.BF16 && target != DType.F32 && target != DType.F16) {
      throw new IllegalArgumentException("FP8 weights dequantize to bf16, fp16 or fp32, not " + target);
    }
    Map<String, String> scales = new LinkedHashMap<>();
    List<String> names = new ArrayList<>();
    for (String name : source.names()) {
      if (Fp8Config.isScaleName(name)) {
        String weight = Fp8Config.weightOfScale(name);
        if (!source.contains(weight) || source.dtype(weight) != DType.F8_E4M3) {
          throw new CheckpointFormatException(source.location(name) + ": scale '" + name + "' has no F8_E4M3 weight '"
              + weight + "'" + (source.contains(weight) ? " (it is " + source.dtype(weight) + ")" : ""));
        }
        continue;
      }
      names.add(name);
      if (source.dtype(name) == DType.F8_E4M3) {
        scales.put(name, checkedScale(source, name, config));
      }
    }
    return new Fp8DequantizedSource(source, config, target, scales, List.copyOf(names));
  }

  /**
   * {@code checkpoint} as plain weights of {@code target}: dequantized when {@code config} declares blockwise FP8,
   * else unchanged.
   */
  public static TensorSource viewOf(HfConfig config, TensorSource checkpoint, DType target) {
    Optional<Fp8Config> fp8 = Fp8Config.of(config);
    return fp8.isPresent() ? of(checkpoint, fp8.get(), target) : checkpoint;
  }

  private static String checkedScale(TensorSource source, String weight, Fp8Config config) {
    String scale = Fp8Config.scaleName(weight);
    if (!source.contains(scale)) {
      throw new CheckpointFormatException(source.location(weight) + ": FP8 weight '" + weight + "' has no scale '"
          + scale + "'");
    }
    Shape shape = source.shape(weight);
    if (shape.rank() < 2) {
      throw new CheckpointFormatException(source.location(weight) + ": FP8 weight '" + weight + "' has shape " + shape
          + "; blockwise FP8 needs rank >= 2");
    }
    int rank = shape.rank();
    Shape expected = shape
        .withDim(rank - 2, Fp8BlockQuantizer.blockCount(shape.dim(rank - 2), config.blockRows()))
        .withDim(rank - 1, Fp8BlockQuantizer.blockCount(shape.dim(rank - 1), config.blockColumns()));
    if (source.dtype(scale) != DType.F32 || !source.shape(scale).equals(expected)) {
      throw new CheckpointFormatException(source.location(scale) + ": scale '" + scale + "' is "
          + source.dtype(scale) + source.shape(scale) + ", expected F32" + expected + " for weight " + shape
          + " in blocks of " + config.blockRows() + "x" + config.blockColumns());
    }
    return scale;
  }

  public Fp8Config config() {
    return config;
  }

  /** Names of the weights stored in FP8. */
  public List<String> quantizedNames() {
    return List.copyOf(scales.keySet());
  }

  @Override
  public List<String> names() {
    return names;
  }

  @Override
  public boolean contains(String name) {
    return !Fp8Config.isScaleName(name) && source.contains(name);
  }

  @Override
  public DType dtype(String name) {
    return scales.containsKey(name) ? target : source.dtype(name);
  }

  @Override
  public Shape shape(String name) {
    return source.shape(name);
  }

  @Override
  public Tensor tensor(String name) {
    String scale = scales.get(name);
    if (scale == null) {
      return source.tensor(name);
    }
    return Fp8DequantizedTensor.of(source.tensor(name), source.tensor(scale), target, config.blockRows(),
        config.blockColumns());
  }

  @Override
  public String location(String name) {
    return source.location(name);
  }
}
