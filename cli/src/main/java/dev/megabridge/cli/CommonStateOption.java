package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.torchdist.MegatronCommonState;
import picocli.CommandLine.Option;

/** {@code --common-state legacy|sharded} of the commands that write torch_dist: where Megatron's common state goes. */
public final class CommonStateOption {
  @Option(names = "--common-state", converter = Choices.CommonStateConverter.class,
      description = "torch_dist: legacy (default; common.pt, loaded by every Megatron >= v0.16, v0.19+ with a "
          + "deprecation warning, and needed by older pins such as slime's) or sharded (Megatron >= v0.19's form: the "
          + "common state as the object common_state/shard_0_1 in the .distcp files, no common.pt; Megatron <= v0.18 "
          + "cannot load it).")
  MegatronCommonState.Storage storage;

  /** The chosen storage for a torch_dist output. */
  MegatronCommonState.Storage forTorchDist() {
    return storage == null ? MegatronCommonState.Storage.LEGACY : storage;
  }

  /** Refuses the option where the output is not torch_dist. */
  void rejectUnless(boolean torchDist, String why) {
    if (storage != null && !torchDist) {
      throw new UsageException("--common-state applies to --format torch_dist only; " + why);
    }
  }
}
