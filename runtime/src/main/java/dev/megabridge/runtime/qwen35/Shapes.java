package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.runtime.ops.Linear;

/** Shape checks of loaded weights against the config, with the tensor name in the message. */
final class Shapes {

  private Shapes() {}

  static void check(Linear linear, int outFeatures, int inFeatures, String name) {
    if (linear.outFeatures() != outFeatures || linear.inFeatures() != inFeatures) {
      throw new ShapeMismatchException(name + " is [" + linear.outFeatures() + ", " + linear.inFeatures()
          + "] but the config implies [" + outFeatures + ", " + inFeatures + "]");
    }
  }

  static void check(float[] values, int length, String name) {
    if (values.length != length) {
      throw new ShapeMismatchException(name + " has " + values.length + " elements but the config implies " + length);
    }
  }
}
