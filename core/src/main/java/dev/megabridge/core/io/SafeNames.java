package dev.megabridge.core.io;

import dev.megabridge.core.error.CheckpointFormatException;
import java.nio.file.Path;

/**
 * Names read from a checkpoint's own files (manifests, sidecars, indexes, DCP metadata) that become paths. Every
 * such name is a plain file or folder name directly inside the folder it is resolved against: not empty, not
 * {@code .} or {@code ..}, no {@code /} or {@code \} (so neither absolute nor nested), no NUL. What megabridge writes
 * there (small files listed from one folder, {@code mp_rank_*} folders, {@code *.safetensors} shards, {@code
 * __0_0.distcp}) is always such a name, so anything else is a corrupt or hostile file and is refused before a path
 * is built from it.
 */
public final class SafeNames {
  private SafeNames() {}

  /** Whether {@code name} stays directly inside the folder it is resolved against. */
  public static boolean isPlainName(String name) {
    return name != null && !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0
        && name.indexOf('\\') < 0 && name.indexOf('\0') < 0;
  }

  /**
   * Returns {@code name} if it is plain, else throws a {@link CheckpointFormatException} naming {@code file} (the
   * manifest it was read from) and {@code entry} (which entry of it).
   */
  public static String requirePlainName(Path file, String entry, String name) {
    if (!isPlainName(name)) {
      throw new CheckpointFormatException(file + ": " + entry + " '" + name
          + "' is not a plain file name (no '..', no separators, not absolute)");
    }
    return name;
  }
}
