package dev.megabridge.core.io;

import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.List;

/** A named collection of tensors whose dtype and shape are known without reading the data. */
public interface TensorSource {

  /** Tensor names in a stable order (the order of the underlying files). */
  List<String> names();

  boolean contains(String name);

  DType dtype(String name);

  Shape shape(String name);

  /** A lazy view of the tensor; throws if the name is unknown. */
  Tensor tensor(String name);

  /** Where the tensor lives, for error messages (a file name). */
  String location(String name);
}
