package dev.megabridge.core.spi;

import dev.megabridge.core.config.HfConfig;
import java.util.Optional;
import java.util.Set;

/**
 * A model family's bridge, found with {@link java.util.ServiceLoader}: a bridge module on the class path
 * lists its implementation in {@code META-INF/services/dev.megabridge.core.spi.ModelBridge} and is thereby
 * registered (our equivalent of importing a module that runs a register decorator).
 *
 * <p>Adding a model family (docs/architecture.md §3):
 * <ol>
 *   <li>Create a module depending on {@code core} only (like {@code qwen35}).
 *   <li>Parse {@code config.json} into a record of the family's sizes, with the family's defaults, failing with a
 *       {@code ConfigException} that names the file and key.
 *   <li>Write the mapping table: one {@code ParamMapping} per Megatron parameter pattern (column, row, replicated,
 *       fused QKV, gated MLP, experts, ...), built into a {@code MappingRegistry}.
 *   <li>Implement {@link BridgeModel}: the HF tensors a checkpoint must hold, the Megatron parameters of a layout,
 *       the registry, divisibility checks, provider fields and Megatron-LM arguments; optionally the torch_dist key
 *       scheme ({@link BridgeModel#torchDistScheme()}), the FP8 rule set ({@link BridgeModel#fp8Policy()}) and the
 *       float32-by-design tensors ({@link BridgeModel#keepsFloat32(String)}).
 *   <li>Implement this interface: {@link #name()}, the HF {@link #architectures()} served, and {@link #bind} returning
 *       the bound model, then list the class in the services file above.
 *   <li>Test: a round trip of a small checkpoint through every layout is bit-identical, and closed-form tests of
 *       each mapping row against the family's spec.
 * </ol>
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
