package dev.megabridge.core.convert.torchdist;

import dev.megabridge.core.error.UnsupportedModelException;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.tensor.DType;
import java.util.List;

/**
 * A model family's torch_dist key conventions: which key, chunking and extra-state object each Megatron
 * parameter of a bound {@link BridgeModel} takes in Megatron's sharded state dict
 * (docs/formats.md §3.9–§3.16). A bridge supplies its family's scheme ({@link BridgeModel#torchDistScheme()}).
 */
public interface TorchDistScheme {

  /** The placement of a global Megatron parameter of the bound model (any MTP or expert naming option). */
  DistPlacement place(MegatronParam param);

  /**
   * The dtype a parameter of source dtype {@code dtype} is stored in: the source's, unless the family's trainer
   * keeps it in another (the narrowing is undone on read from the exact values megabridge records).
   */
  default DType storedDtype(MegatronParam param, DType dtype) {
    return dtype;
  }

  /**
   * Keys to try, in order, when reading {@code key} from a checkpoint written by some Megatron version
   * (e.g. the short-lived {@code mtp_model_layer} MTP keys, docs/formats.md §3.14); the first is {@code key} itself.
   */
  default List<String> readCandidates(String key) {
    return List.of(key);
  }

  /** The scheme of {@code model}'s family, which its bridge supplies ({@link BridgeModel#torchDistScheme()}). */
  static TorchDistScheme of(BridgeModel model) {
    return model.torchDistScheme().orElseThrow(() -> new UnsupportedModelException(model.architecture() + " ("
        + model.bridge().name() + ") has no torch_dist key scheme"));
  }
}
