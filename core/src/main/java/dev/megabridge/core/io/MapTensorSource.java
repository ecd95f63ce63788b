package dev.megabridge.core.io;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Already-built lazy tensors (a gather over rank files, a torch_dist view, tensors made in memory) as a
 * {@link TensorSource}, in the map's order; {@code location} names where they come from in error messages.
 */
public record MapTensorSource(String location, Map<String, Tensor> tensors) implements TensorSource {

  public MapTensorSource {
    tensors = new LinkedHashMap<>(tensors);
  }

  @Override
  public List<String> names() {
    return List.copyOf(tensors.keySet());
  }

  @Override
  public boolean contains(String name) {
    return tensors.containsKey(name);
  }

  @Override
  public DType dtype(String name) {
    return tensor(name).dtype();
  }

  @Override
  public Shape shape(String name) {
    return tensor(name).shape();
  }

  @Override
  public Tensor tensor(String name) {
    Tensor tensor = tensors.get(name);
    if (tensor == null) {
      throw new CheckpointFormatException(location + ": no HF tensor '" + name + "'");
    }
    return tensor;
  }

  @Override
  public String location(String name) {
    return location;
  }
}
