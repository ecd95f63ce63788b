package dev.megabridge.core.convert.torchdist;

import dev.megabridge.core.spi.BridgeModel;
import java.util.Optional;

/**
 * Binds a {@link TorchDistScheme} to models of one family; listed in
 * {@code META-INF/services/dev.megabridge.core.convert.torchdist.TorchDistSchemeFactory}.
 */
public interface TorchDistSchemeFactory {

  /** The scheme for {@code model}, or empty when the model is not of this factory's family. */
  Optional<TorchDistScheme> forModel(BridgeModel model);
}
