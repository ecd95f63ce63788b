package dev.megabridge.core.convert;

import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One tensor of one rank's file: its local Megatron name, the global parameter it shards, the resolved
 * mapping and the split (TP, or ETP for experts) coordinates, and the local dtype and shape.
 */
public record ShardEntry(String localName, MegatronParam param, ParamMapping mapping, int splitSize, int splitRank,
    DType dtype, Shape shape) {

  /** The lazy shard cut from the HF tensors of {@code source}, checked against the planned dtype and shape. */
  public Tensor cut(TensorSource source) {
    Map<String, Tensor> roles = new LinkedHashMap<>();
    mapping.hfParams().forEach((role, name) -> roles.put(role, source.tensor(name)));
    Tensor shard = mapping.toMegatron(roles, splitSize, splitRank);
    if (!shard.shape().equals(shape) || shard.dtype() != dtype) {
      throw new ShapeMismatchException(localName + ": mapping produced " + shard.dtype() + shard.shape()
          + ", plan expects " + dtype + shape);
    }
    return shard;
  }
}
