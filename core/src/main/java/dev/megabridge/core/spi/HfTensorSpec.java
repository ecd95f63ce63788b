package dev.megabridge.core.spi;

import dev.megabridge.core.tensor.Shape;

/** A tensor an HF checkpoint of the model must hold: name, shape, and a component label for reports. */
public record HfTensorSpec(String name, Shape shape, String component) {}
