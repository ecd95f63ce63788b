package dev.megabridge.core.io;

import dev.megabridge.core.error.UsageException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * An output folder written atomically: everything goes into a temporary sibling, which replaces the
 * target only in {@link #commit()}. Closing without committing deletes the temporary folder, so a failed
 * command leaves the target exactly as it was.
 */
public final class OutputDirectory implements AutoCloseable {
  private final Path target;
  private final Path staging;
  private final boolean overwrite;
  private boolean committed;

  private OutputDirectory(Path target, Path staging, boolean overwrite) {
    this.target = target;
    this.staging = staging;
    this.overwrite = overwrite;
  }

  /** Refuses an existing target unless {@code overwrite}. */
  public static OutputDirectory create(Path target, boolean overwrite) {
    Path absolute = target.toAbsolutePath().normalize();
    if (absolute.getParent() == null) {
      throw new UsageException(absolute + " cannot be an output folder (it has no parent)");
    }
    if (Files.exists(absolute) && !overwrite) {
      throw new UsageException(absolute + " already exists (pass --overwrite to replace it)");
    }
    try {
      Path parent = absolute.getParent();
      Files.createDirectories(parent);
      Path staging = Files.createTempDirectory(parent, "." + absolute.getFileName() + ".tmp-");
      return new OutputDirectory(absolute, staging, overwrite);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a temporary folder beside " + absolute, e);
    }
  }

  /** Where to write; becomes {@link #target()} on commit. */
  public Path path() {
    return staging;
  }

  public Path target() {
    return target;
  }

  /**
   * Moves the finished folder into place (replacing an existing target when allowed). Only once; if moving
   * the new folder fails after an old target was moved aside, the old target is moved back.
   */
  public void commit() {
    if (committed) {
      throw new IllegalStateException(target + " is already committed");
    }
    // No output built from unverified bytes becomes visible: checksummed inputs read only in part are checked whole.
    ChecksummedReads.verifyAllPartlyRead();
    try {
      if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
        if (!overwrite) {
          throw new UsageException(target + " appeared while writing; not replaced");
        }
        Path old = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".old-");
        Files.delete(old);
        Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        try {
          Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
          Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
          throw e;
        }
        committed = true;
        deleteRecursively(old);
      } else {
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        committed = true;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot move " + staging + " to " + target, e);
    }
  }

  @Override
  public void close() {
    if (!committed) {
      deleteRecursively(staging);
    }
  }

  public static void deleteRecursively(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + root, e);
    }
  }
}
