package dev.megabridge.cli;

import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** {@code --hf-config HF_DIR}: the config (and small files) of a torch_dist checkpoint megabridge did not write. */
public final class HfConfigOption {
  @Option(names = "--hf-config", description = "For a torch_dist checkpoint megabridge did not write (no sidecar): "
      + "the HF folder with its config.json and small files (tokenizer, preprocessor).")
  Path folder;

  boolean given() {
    return folder != null;
  }

  /** The folder when given; it must exist. */
  Optional<Path> folder() {
    return Optional.ofNullable(folder).map(path -> Output.existingDirectory(path, "--hf-config"));
  }
}
