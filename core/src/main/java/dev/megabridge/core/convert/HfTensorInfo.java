package dev.megabridge.core.convert;

import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.util.LinkedHashMap;
import java.util.Map;

/** An HF tensor as stored: name, dtype, shape and the file that holds it. */
public record HfTensorInfo(String name, DType dtype, Shape shape, String file) {

  /** Every tensor of an HF folder, in its order. */
  public static Map<String, HfTensorInfo> of(SafetensorsCheckpoint checkpoint) {
    return of(checkpoint, checkpoint.fileNames());
  }

  /** Name, dtype, shape and file ({@code files}: tensor name → file) of every tensor of {@code source}, in order. */
  public static Map<String, HfTensorInfo> of(TensorSource source, Map<String, String> files) {
    Map<String, HfTensorInfo> infos = new LinkedHashMap<>();
    for (String name : source.names()) {
      infos.put(name, new HfTensorInfo(name, source.dtype(name), source.shape(name), files.get(name)));
    }
    return infos;
  }
}
