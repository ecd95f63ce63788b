package dev.megabridge.core.quant;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.UnsupportedModelException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.quant.Fp8Policy.TensorParallelAxis;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntUnaryOperator;

/**
 * At which tensor-parallel sizes an inference engine can load a blockwise FP8 checkpoint: every TP slice of
 * every quantized weight (rows for column-parallel, columns for row-parallel, experts by the expert TP size) must
 * start and end on a block boundary, or the engine would need scales for half a block.
 */
public final class Fp8TensorParallelCheck {
  private Fp8TensorParallelCheck() {}

  /** A weight that stops a TP size from loading. */
  public record Blocker(String name, Shape shape, TensorParallelAxis axis, long length, String reason) {}

  /** The verdict for one TP size: loads when {@code blockers} is empty (at most {@code limit} listed). */
  public record Verdict(int tensorParallelSize, boolean loads, int blockerCount, List<Blocker> blockers) {
    public Verdict {
      blockers = List.copyOf(blockers);
    }
  }

  /**
   * @param quantizedShapes the quantized weights and their shapes (packed experts keep their leading axis)
   * @param expertTensorParallel the expert TP size for a given TP size (engines often use 1 or TP ÷ EP)
   */
  public static List<Verdict> check(Map<String, Shape> quantizedShapes, Fp8Policy policy, Fp8Config config,
      List<Integer> sizes, IntUnaryOperator expertTensorParallel, int limit) {
    List<Verdict> verdicts = new ArrayList<>();
    for (int size : sizes) {
      if (size < 1) {
        throw new IllegalArgumentException("tensor-parallel size " + size + " must be positive");
      }
      List<Blocker> blockers = new ArrayList<>();
      int count = 0;
      for (Map.Entry<String, Shape> weight : quantizedShapes.entrySet()) {
        String name = weight.getKey();
        Optional<TensorParallelAxis> axis = policy.tensorParallelAxis(name);
        if (axis.isEmpty()) {
          continue;
        }
        int parts = policy.isExpert(name) ? expertTensorParallel.applyAsInt(size) : size;
        Shape shape = weight.getValue();
        int rank = shape.rank();
        long length = axis.get() == TensorParallelAxis.OUTPUT ? shape.dim(rank - 2) : shape.dim(rank - 1);
        int block = axis.get() == TensorParallelAxis.OUTPUT ? config.blockRows() : config.blockColumns();
        Optional<String> reason = Optional.empty();
        for (long section : policy.splitSections(name, length)) {
          reason = reason.or(() -> sliceProblem(section, parts, block));
        }
        if (reason.isPresent()) {
          count++;
          if (blockers.size() < limit) {
            blockers.add(new Blocker(name, shape, axis.get(), length, reason.get()));
          }
        }
      }
      verdicts.add(new Verdict(size, count == 0, count, blockers));
    }
    return verdicts;
  }

  /** Why cutting {@code length} into {@code parts} slices misses the {@code block} grid, if it does. */
  static Optional<String> sliceProblem(long length, int parts, int block) {
    if (parts == 1) {
      return Optional.empty();
    }
    if (length % parts != 0) {
      return Optional.of(length + " does not split into " + parts + " equal slices");
    }
    long slice = length / parts;
    if (slice % block != 0) {
      return Optional.of("slices of " + slice + " cut through blocks of " + block);
    }
    return Optional.empty();
  }

  /**
   * The check of an FP8 HF folder: its {@code quantization_config} block size, its quantized weights and their
   * shapes, and the rule set of the model's bridge. Routed experts are split by {@code expertTensorParallel(tp)}.
   */
  public static List<Verdict> checkFolder(Path folder, AutoBridge autoBridge, List<Integer> sizes,
      IntUnaryOperator expertTensorParallel, int limit) {
    HfConfig config = HfConfig.load(folder);
    Fp8Config fp8 = Fp8Config.of(config).orElseThrow(() -> new UsageException(folder + " is not a blockwise FP8 "
        + "checkpoint (its config.json has no quantization_config)"));
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(folder)) {
      Fp8DequantizedSource source = Fp8DequantizedSource.of(checkpoint, fp8, DType.BF16);
      BridgeModel model = autoBridge.fromConfig(config, Optional.of(new LinkedHashSet<>(source.names())),
          BridgeOptions.defaults());
      Fp8Policy policy = model.fp8Policy().orElseThrow(() -> new UnsupportedModelException(model.architecture()
          + " has no FP8 rule set"));
      Map<String, Shape> shapes = new LinkedHashMap<>();
      source.quantizedNames().forEach(name -> shapes.put(name, source.shape(name)));
      return check(shapes, policy, fp8, sizes, expertTensorParallel, limit);
    }
  }
}
