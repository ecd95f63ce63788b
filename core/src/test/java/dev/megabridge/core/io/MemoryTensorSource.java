package dev.megabridge.core.io;

import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.List;
import java.util.Map;

/** Tensors held in a map, in its iteration order, as a {@link TensorSource} for tests. */
public record MemoryTensorSource(Map<String, Tensor> tensors) implements TensorSource {
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
    return tensors.get(name).dtype();
  }

  @Override
  public Shape shape(String name) {
    return tensors.get(name).shape();
  }

  @Override
  public Tensor tensor(String name) {
    return tensors.get(name);
  }

  @Override
  public String location(String name) {
    return "memory";
  }
}
