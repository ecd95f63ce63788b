package dev.megabridge.qwen35.torchdist;

import dev.megabridge.core.convert.torchdist.TorchDistScheme;
import dev.megabridge.core.convert.torchdist.TorchDistSchemeFactory;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.qwen35.Qwen35BridgeModel;
import java.util.Optional;

/** Gives every Qwen3.5 model (dense, MoE, text-only or VL) its torch_dist scheme; found by ServiceLoader. */
public final class Qwen35TorchDistSchemeFactory implements TorchDistSchemeFactory {
  @Override
  public Optional<TorchDistScheme> forModel(BridgeModel model) {
    return model instanceof Qwen35BridgeModel qwen ? Optional.of(new Qwen35TorchDistScheme(qwen)) : Optional.empty();
  }
}
