package dev.megabridge.core.io.safetensors;

import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;

/** One header entry of a safetensors file: byte range relative to the start of the data area. */
public record TensorInfo(String name, DType dtype, Shape shape, long begin, long end) {

  public long byteSize() {
    return end - begin;
  }
}
