package dev.megabridge.core.spi;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.mapping.MappingRegistry;
import dev.megabridge.core.parallel.ParallelLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
   * including the copies Megatron keeps on later pipeline stages (spec §6.2–§6.3).
   */
  List<MegatronParam> megatronParams(ParallelLayout layout);

  /** Whether word embeddings and output layer are tied. */
  boolean tiedEmbeddings();

  int numLayers();

  /** Routed experts per MoE layer; 0 for dense models. */
  int numExperts();

  /** Checks model-specific divisibility of {@code layout}; errors name the dimension. */
  void validateLayout(ParallelLayout layout);

  /** The Megatron model-provider fields (megatron-bridge-spec §5), in a stable order. */
  LinkedHashMap<String, Object> provider();

  /** Megatron-LM command-line arguments for this model. */
  List<String> megatronArgs();

  /** Facts for reports: layer pattern, detected layouts, MTP, tie flag, ...; counts as numbers, flags as booleans. */
  Map<String, Object> facts();
}
