package dev.megabridge.core.convert.torchdist;

import dev.megabridge.core.io.torchdist.TorchDistChunks;
import java.util.Optional;

/**
 * Where a Megatron parameter goes in a torch_dist checkpoint: its {@link DistForm}, the Transformer Engine
 * module whose {@code _extra_state} object the loader requests with it (docs/formats.md §3.13), and whether its
 * first axis is the vocabulary, which a trained checkpoint may have padded (docs/formats.md §3.15).
 */
public record DistPlacement(DistForm form, Optional<String> teModule, boolean vocabulary) {

  /**
   * The ShardedObject key of {@link #teModule()}'s extra state, with the layer/expert axis of a
   * {@link DistForm.Stacked} parameter (docs/formats.md §3.13), e.g. {@code …linear_fc1._extra_state/shard_5_32}.
   */
  public Optional<String> extraStateKey() {
    return teModule.map(module -> switch (form) {
      case DistForm.Stacked stacked -> TorchDistChunks.shardedObjectKey(module + "._extra_state",
          new long[] {stacked.index()}, new long[] {stacked.count()});
      case DistForm.Whole _, DistForm.SwigluHalves _, DistForm.Sections _ -> TorchDistChunks.extraStateKey(module);
    });
  }
}
