package dev.megabridge.core.spi;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.torchdist.TorchDistScheme;
import dev.megabridge.core.mapping.MappingRegistry;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.quant.Fp8Policy;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A bridge bound to one checkpoint: everything the conversion engine needs, computed from the config and
 * (when present) the checkpoint's tensor names. Pure data, no I/O.
 */
public interface BridgeModel {

  ModelBridge bridge();

  String architecture();

  HfConfig config();

  BridgeOptions options();

  /** The registry used for conversion (aliases applied). */
  MappingRegistry registry();

  /** Every HF tensor the checkpoint must hold, in a deterministic order. */
  List<HfTensorSpec> hfTensors();

  /**
   * Every global Megatron parameter of a model built with {@code layout}, in a deterministic order,
   * including the copies Megatron keeps on later pipeline stages (docs/mappings.md §3.5).
   */
  List<MegatronParam> megatronParams(ParallelLayout layout);

  /**
   * Whether the HF tensor {@code hfName} is kept in float32 by design whatever the checkpoint's dtype (for
   * Qwen3.5 the Gated DeltaNet {@code A_log} and gated-norm weight). Such a tensor may be F32 in a checkpoint of
   * another dtype without making it mixed, and export under a requested dtype keeps it F32.
   */
  default boolean keepsFloat32(String hfName) {
    return false;
  }

  /** The family's torch_dist key conventions, if it can be read from and written to torch_dist. */
  default Optional<TorchDistScheme> torchDistScheme() {
    return Optional.empty();
  }

  /** The family's blockwise FP8 rule set (docs/formats.md §5), if it supports FP8 checkpoints. */
  default Optional<Fp8Policy> fp8Policy() {
    return Optional.empty();
  }

  /** Whether word embeddings and output layer are tied. */
  boolean tiedEmbeddings();

  int numLayers();

  /** Routed experts per MoE layer; 0 for dense models. */
  int numExperts();

  /** Checks model-specific divisibility of {@code layout}; errors name the dimension. */
  void validateLayout(ParallelLayout layout);

  /** The Megatron model-provider fields (docs/mappings.md §6.2), in a stable order. */
  LinkedHashMap<String, Object> provider();

  /** Megatron-LM command-line arguments for this model. */
  List<String> megatronArgs();

  /** Facts for reports: layer pattern, detected layouts, MTP, tie flag, ...; counts as numbers, flags as booleans. */
  Map<String, Object> facts();
}
