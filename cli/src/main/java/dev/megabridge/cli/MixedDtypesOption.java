package dev.megabridge.cli;

import dev.megabridge.core.convert.HfDtypes;
import picocli.CommandLine.Option;

/** {@code --allow-mixed-dtypes}, for the commands that read an HF folder. */
public final class MixedDtypesOption {
  @Option(names = "--allow-mixed-dtypes", description = "Accept an HF checkpoint whose floating tensors have "
      + "different dtypes beyond the model's float32-by-design ones (default: exit 3 naming the first such tensor).")
  boolean allowMixedDtypes;

  HfDtypes.Policy policy() {
    return policy(allowMixedDtypes);
  }

  /** The dtype policy with the warnings on stderr, one line each. */
  static HfDtypes.Policy policy(boolean allowMixedDtypes) {
    return new HfDtypes.Policy(allowMixedDtypes, message -> System.err.println("warning: " + message));
  }
}
