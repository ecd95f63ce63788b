package dev.megabridge.core.io;

import dev.megabridge.core.error.UsageException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * An output folder written atomically: everything goes into a temporary sibling {@code .<name>.tmp-*}, which
 * replaces the target only in {@link #commit()}. Closing without committing deletes the temporary folder, so a
 * failed command leaves the target exactly as it was; SIGINT / SIGTERM delete it too, and a later run writing the
 * same target deletes the ones a killed run left ({@link TemporaryFolders}).
 *
 * <p>The target is never the source of the run, inside it, around it, or the current folder, whatever
 * {@code --overwrite} says. An existing target is refused unless {@code overwrite}, except an empty folder (nothing
 * is lost by replacing it; {@code mkdir OUT} before the run is common).
 */
public final class OutputDirectory implements AutoCloseable {
  private static final String TEMPORARY = ".tmp-";
  private static final String OLD = ".old-";

  private final Path target;
  private final Path staging;
  private final TemporaryFolders.Registration registration;
  private final boolean overwrite;
  private boolean committed;

  private OutputDirectory(Path target, TemporaryFolders.Registration registration, Path staging, boolean overwrite) {
    this.target = target;
    this.registration = registration;
    this.staging = staging;
    this.overwrite = overwrite;
  }

  /** {@link #create(Path, boolean, List)} for a writer that reads no folder of its own. */
  public static OutputDirectory create(Path target, boolean overwrite) {
    return create(target, overwrite, List.of());
  }

  /**
   * Checks the target against {@code inputs} (the folders the run reads) and the current folder
   * ({@link #requireApart}), refuses an existing non-empty target unless {@code overwrite}, removes the temporary
   * folders that killed runs left for the same target, and creates the staging folder. Nothing is written before
   * every check passed.
   */
  public static OutputDirectory create(Path target, boolean overwrite, List<Path> inputs) {
    Path absolute = target.toAbsolutePath().normalize();
    if (absolute.getParent() == null) {
      throw new UsageException(absolute + " cannot be an output folder (it has no parent)");
    }
    requireApart(absolute, inputs);
    requireNotCurrentFolder(absolute);
    if (Files.exists(absolute, LinkOption.NOFOLLOW_LINKS) && !overwrite && !isEmptyFolder(absolute)) {
      throw new UsageException(absolute + " already exists (pass --overwrite to replace it)");
    }
    Path parent = absolute.getParent();
    for (Path ancestor = parent; ancestor != null; ancestor = ancestor.getParent()) {
      if (Files.exists(ancestor)) {
        if (!Files.isDirectory(ancestor)) {
          throw new UsageException("cannot write " + absolute + ": " + ancestor + " is not a folder");
        }
        break;
      }
    }
    try {
      Files.createDirectories(parent);
    } catch (IOException e) {
      throw TemporaryFolders.failure("cannot create the output's parent folder " + parent, e);
    }
    String name = absolute.getFileName().toString();
    removeStale(parent, name, absolute);
    try {
      TemporaryFolders.Registration registration = TemporaryFolders.create(parent, "." + name + TEMPORARY,
          "the temporary folder of output " + absolute);
      return new OutputDirectory(absolute, registration, registration.folder(), overwrite);
    } catch (IOException e) {
      throw TemporaryFolders.failure("cannot create a temporary folder beside " + absolute, e);
    }
  }

  /**
   * Refuses {@code target} (absolute) when it is one of {@code inputs}, contains one or lies inside one, comparing
   * real paths (symlinks resolved; a target that does not exist yet is resolved through its nearest existing
   * ancestor): writing there could replace or mix with what the run reads. The message names both paths.
   */
  public static void requireApart(Path target, List<Path> inputs) {
    Path realTarget = realPath(target);
    for (Path input : inputs) {
      Path realInput = realPath(input);
      String relation = realTarget.equals(realInput) ? "is"
          : realInput.startsWith(realTarget) ? "contains"
          : realTarget.startsWith(realInput) ? "lies inside" : null;
      if (relation != null) {
        throw new UsageException("output " + shown(target, realTarget) + " " + relation + " the source "
            + shown(input, realInput) + "; refusing to write there (choose an output outside the source)");
      }
    }
  }

  /** Refuses a target that is the current folder or contains it: replacing it would pull the folder from under us. */
  private static void requireNotCurrentFolder(Path target) {
    Path current = Path.of("").toAbsolutePath();
    Path realCurrent = realPath(current);
    Path realTarget = realPath(target);
    if (realCurrent.startsWith(realTarget)) {
      throw new UsageException("output " + shown(target, realTarget) + (realCurrent.equals(realTarget)
          ? " is the current folder" : " contains the current folder " + realCurrent)
          + "; refusing to write there (choose an output outside it)");
    }
  }

  private static String shown(Path given, Path real) {
    Path absolute = given.toAbsolutePath().normalize();
    return absolute.equals(real) ? absolute.toString() : absolute + " (" + real + ")";
  }

  /**
   * {@code path} with symlinks resolved; for a path that does not exist, its nearest existing ancestor's real path
   * with the rest appended.
   */
  static Path realPath(Path path) {
    Path absolute = path.toAbsolutePath().normalize();
    Path existing = absolute;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      return absolute;
    }
    try {
      return existing.toRealPath().resolve(existing.relativize(absolute)).normalize();
    } catch (IOException e) {
      return absolute;
    }
  }

  private static boolean isEmptyFolder(Path path) {
    if (!Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
      return false;
    }
    try (Stream<Path> entries = Files.list(path)) {
      return entries.findAny().isEmpty();
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Removes the temporary folders ({@code .<name>.tmp-*}) and replaced targets ({@code .<name>.old-*}) that runs
   * killed before they could clean up left beside {@code target}, where their process is gone. A replaced target
   * is kept while {@code target} does not exist: the run was killed between moving it aside and moving the new
   * output in, so it holds the only copy.
   */
  private static void removeStale(Path parent, String name, Path target) {
    TemporaryFolders.removeStale(parent, "." + name + TEMPORARY);
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
      TemporaryFolders.removeStale(parent, "." + name + OLD);
      return;
    }
    try (Stream<Path> entries = Files.list(parent)) {
      entries.filter(entry -> entry.getFileName().toString().startsWith("." + name + OLD))
          .forEach(old -> TemporaryFolders.report("kept " + old + ": a run replacing " + target + " was killed after moving"
              + " it aside, so this may be its only copy (rename it back to " + target.getFileName() + ")"));
    } catch (IOException e) {
      // Only a report; the run does not depend on it.
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
   * Moves the finished folder into place (replacing an existing target when allowed, or an empty folder). Only
   * once; if moving the new folder fails after an old target was moved aside, the old target is moved back.
   */
  public void commit() {
    if (committed) {
      throw new IllegalStateException(target + " is already committed");
    }
    // No output built from unverified bytes becomes visible: checksummed inputs read only in part are checked whole.
    ChecksummedReads.verifyAllPartlyRead();
    Path[] replaced = new Path[1];
    try {
      Files.deleteIfExists(staging.resolve(TemporaryFolders.OWNER_FILE));
      boolean finished = registration.finish(() -> {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !(isEmptyFolder(target) && !overwrite)) {
          if (!overwrite) {
            throw new UsageException(target + " appeared while writing; not replaced");
          }
          Path old = target.resolveSibling("." + target.getFileName() + OLD
              + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36));
          Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
          try {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
          } catch (IOException e) {
            Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
            throw e;
          }
          replaced[0] = old;
        } else {
          try {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
          } catch (DirectoryNotEmptyException e) {
            throw new UsageException(target + " was filled while writing; not replaced");
          }
        }
      });
      if (!finished) {
        throw new UsageException("interrupted: " + target + " was not written");
      }
      committed = true;
    } catch (IOException e) {
      throw TemporaryFolders.failure("cannot move " + staging + " to " + target, e);
    }
    if (replaced[0] != null) {
      // Garbage now: deleted here, on SIGINT / SIGTERM by the hook, after SIGKILL by the next run (owner file).
      TemporaryFolders.Registration old = TemporaryFolders.register(replaced[0], "the replaced output " + target);
      try {
        if (Files.isDirectory(replaced[0], LinkOption.NOFOLLOW_LINKS)) {
          TemporaryFolders.writeOwner(replaced[0]);
        }
      } catch (IOException e) {
        // Without an owner file a later run keeps it and says so; deleting it below is what matters.
      }
      old.delete();
    }
  }

  @Override
  public void close() {
    if (!committed) {
      registration.delete();
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
