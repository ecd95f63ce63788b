package dev.megabridge.qwen35;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.ModelBridge;
import java.util.Optional;
import java.util.Set;

/** Text-only MoE Qwen3.5 (Qwen3_5MoeForCausalLM): HF prefix model., Megatron prefix empty, no vision, registered through ServiceLoader. */
public final class Qwen35MoEBridge implements ModelBridge {

  @Override
  public String name() {
    return "Qwen35MoEBridge";
  }

  @Override
  public Set<String> architectures() {
    return Set.of(Qwen35Config.MOE_TEXT);
  }

  @Override
  public BridgeModel bind(HfConfig config, String architecture, Optional<Set<String>> checkpointTensorNames,
      BridgeOptions options) {
    return new Qwen35BridgeModel(this, Qwen35Config.parse(config, architecture), checkpointTensorNames, options);
  }
}
