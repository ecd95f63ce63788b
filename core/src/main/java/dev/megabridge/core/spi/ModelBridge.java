package dev.megabridge.core.spi;

import dev.megabridge.core.config.HfConfig;
import java.util.Optional;
import java.util.Set;

/**
 * A model family's bridge, found with {@link java.util.ServiceLoader}: a bridge module on the class path
 * lists its implementation in {@code META-INF/services/dev.megabridge.core.spi.ModelBridge} and is thereby
 * registered (our equivalent of importing a module that runs a register decorator).
 */
public interface ModelBridge {

  /** Bridge name, e.g. {@code Qwen35VLBridge}. */
  String name();

  /** HF architecture names (from {@code config.json} "architectures") this bridge serves. */
  Set<String> architectures();

  /** Among bridges claiming the same architecture, the highest priority wins; a tie is an error. */
  default int priority() {
    return 0;
  }

  /**
   * Binds the bridge to one checkpoint: its config, and — when weights are present — the names of its
   * tensors, from which layout variants (packed experts, MTP presence, ...) are detected. A config-only
   * folder passes {@code Optional.empty()}.
   */
  BridgeModel bind(HfConfig config, String architecture, Optional<Set<String>> checkpointTensorNames,
      BridgeOptions options);
}
