package dev.megabridge.qwen35;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.ModelBridge;
import java.util.Optional;
import java.util.Set;

/** Dense Qwen3.5-VL (Qwen3_5ForConditionalGeneration), registered through ServiceLoader. */
public final class Qwen35VLBridge implements ModelBridge {

  @Override
  public String name() {
    return "Qwen35VLBridge";
  }

  @Override
  public Set<String> architectures() {
    return Set.of(Qwen35Config.DENSE_VL);
  }

  @Override
  public BridgeModel bind(HfConfig config, String architecture, Optional<Set<String>> checkpointTensorNames,
      BridgeOptions options) {
    return new Qwen35BridgeModel(this, Qwen35Config.parse(config, architecture), checkpointTensorNames, options);
  }
}
