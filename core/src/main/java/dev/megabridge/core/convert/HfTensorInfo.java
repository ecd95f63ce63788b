package dev.megabridge.core.convert;

import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;

/** An HF tensor as stored: name, dtype, shape and the file that holds it. */
public record HfTensorInfo(String name, DType dtype, Shape shape, String file) {}
