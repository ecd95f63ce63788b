package dev.megabridge.core.io;

import dev.megabridge.core.error.EnvironmentException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * The temporary folders megabridge writes into (the staging folder of an {@link OutputDirectory}, a round trip's
 * scratch folder) and what happens to them when a run does not end normally:
 *
 * <ul>
 *   <li>each is created with the umask's mode ({@link Files#createDirectory}, not the 0700 of a JDK temp folder) and
 *       holds an {@link #OWNER_FILE} naming the process that owns it (pid, start time, host);
 *   <li>while it is registered, SIGINT / SIGTERM (any JVM shutdown) removes it, and says so ({@link #reportTo});
 *   <li>after a SIGKILL it stays, and the next run that writes beside it removes it ({@link #removeStale}) — but only
 *       when its owner file shows a process of this host that is gone (or whose pid now belongs to a process started
 *       at another time). A folder whose owner is alive, runs on another host, or that has no readable owner file is
 *       never deleted; the run says so instead.
 * </ul>
 */
public final class TemporaryFolders {

  /** The owner record inside each temporary folder; removed before an output folder is committed. */
  public static final String OWNER_FILE = ".megabridge-owner";

  /**
   * Two start times of one process may differ by this much: the JDK derives them from the boot time in
   * {@code /proc/stat}, which the kernel reports to the second and which can drift by one between reads.
   */
  static final long START_TOLERANCE_MILLIS = 2_000;

  /** Who owns a temporary folder. {@code start} is empty where the platform does not say. */
  public record Owner(long pid, Optional<Instant> start, String host) {

    /** This process. */
    public static Owner current() {
      return new Owner(ProcessHandle.current().pid(), ProcessHandle.current().info().startInstant(), HOST);
    }

    String toText() {
      return "pid=" + pid + "\nstart_epoch_ms=" + start.map(instant -> Long.toString(instant.toEpochMilli())).orElse("")
          + "\nhost=" + host + "\n";
    }

    /** The owner recorded in {@code text}, or empty when it is not a complete owner record. */
    static Optional<Owner> parse(String text) {
      Map<String, String> fields = new LinkedHashMap<>();
      for (String line : text.split("\n")) {
        int equals = line.indexOf('=');
        if (equals > 0) {
          fields.put(line.substring(0, equals), line.substring(equals + 1).trim());
        }
      }
      try {
        String start = fields.get("start_epoch_ms");
        if (!fields.containsKey("pid") || start == null || !fields.containsKey("host")) {
          return Optional.empty();
        }
        return Optional.of(new Owner(Long.parseLong(fields.get("pid")),
            start.isEmpty() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(Long.parseLong(start))),
            fields.get("host")));
      } catch (NumberFormatException e) {
        return Optional.empty();
      }
    }

    /**
     * Whether the process that owned the folder is gone: it ran on this host and its pid is not alive, or is alive
     * but started at another time (the pid was reused). Never true for another host's process or this process.
     */
    public boolean isGone() {
      if (!host.equals(HOST)) {
        return false;
      }
      Optional<ProcessHandle> process = ProcessHandle.of(pid);
      if (process.isEmpty() || !process.get().isAlive()) {
        return true;
      }
      Optional<Instant> actualStart = process.get().info().startInstant();
      return start.isPresent() && actualStart.isPresent()
          && Math.abs(start.get().toEpochMilli() - actualStart.get().toEpochMilli()) > START_TOLERANCE_MILLIS;
    }

    String describe() {
      return "process " + pid + (host.equals(HOST) ? "" : " on host " + host);
    }
  }

  private static final String HOST = hostName();

  /** Folders removed on SIGINT / SIGTERM, each with the lock that its commit or removal holds. */
  private static final Map<Path, Registration> REGISTERED = new ConcurrentHashMap<>();

  private static volatile boolean hookInstalled;

  /** Where notices go; core prints nothing itself, the CLI sends them to stderr. */
  private static volatile Consumer<String> notices = message -> {};

  private TemporaryFolders() {}

  /**
   * Sends the notices about temporary folders (removed on interruption, stale ones removed or kept and why, what
   * could not be deleted) to {@code sink}; by default they are dropped.
   */
  public static void reportTo(Consumer<String> sink) {
    notices = sink;
  }

  static void report(String message) {
    notices.accept(message);
  }

  /** One registered folder; {@link #removed} is set, under its lock, once the shutdown hook took it. */
  public static final class Registration {
    private final Path folder;
    private final String what;
    private boolean removed;

    private Registration(Path folder, String what) {
      this.folder = folder;
      this.what = what;
    }

    public Path folder() {
      return folder;
    }

    /**
     * Runs {@code step} (a rename that moves the folder's content into place) unless the shutdown hook already
     * removed the folder, and unregisters it; the hook cannot start removing it while {@code step} runs.
     *
     * @return false when the folder was removed by the hook (the run was interrupted)
     */
    public synchronized boolean finish(IoStep step) throws IOException {
      if (removed) {
        return false;
      }
      step.run();
      REGISTERED.remove(folder, this);
      return true;
    }

    /** No longer removed on shutdown (the caller deletes or keeps it itself). */
    public synchronized void release() {
      REGISTERED.remove(folder, this);
    }

    /**
     * Deletes the folder ({@link #deleteBestEffort}) and unregisters it; a SIGINT / SIGTERM meanwhile waits for it.
     * Says on stderr when something could not be deleted.
     */
    public synchronized void delete() {
      boolean gone = deleteBestEffort(folder);
      REGISTERED.remove(folder, this);
      if (!gone) {
        report("warning: could not remove all of " + folder + " (" + what + "); delete it by hand");
      }
    }

    private synchronized void removeOnShutdown() {
      if (removed || !REGISTERED.containsKey(folder)) {
        return;
      }
      removed = true;
      boolean gone = deleteBestEffort(folder);
      report(gone ? "interrupted: removed " + folder + " (" + what + ")"
          : "interrupted: could not remove all of " + folder + " (" + what
              + "; threads were still writing into it); delete it by hand");
    }
  }

  /** A file-system step that may fail. */
  @FunctionalInterface
  public interface IoStep {
    void run() throws IOException;
  }

  /**
   * The system temp folder: {@code $TMPDIR} when set (the JDK's {@code java.io.tmpdir} ignores it), else
   * {@code java.io.tmpdir}.
   */
  public static Path systemTemp() {
    String tmpdir = System.getenv("TMPDIR");
    return Path.of(tmpdir != null && !tmpdir.isBlank() ? tmpdir : System.getProperty("java.io.tmpdir"));
  }

  /**
   * Creates {@code parent/<prefix><random>} with the umask's mode and this process's owner file, and registers it
   * for removal on SIGINT / SIGTERM ({@code what} names it in that message, e.g. "the temporary output").
   */
  public static Registration create(Path parent, String prefix, String what) throws IOException {
    Path folder;
    while (true) {
      Path candidate = parent.resolve(prefix + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36));
      try {
        folder = Files.createDirectory(candidate);
        break;
      } catch (FileAlreadyExistsException taken) {
        // Another name then.
      }
    }
    Registration registration = register(folder, what);
    try {
      writeOwner(folder);
    } catch (IOException e) {
      registration.release();
      deleteBestEffort(folder);
      throw e;
    }
    return registration;
  }

  /**
   * A scratch folder {@code parent/<prefix><random>} (created with its parents), after removing the ones of gone
   * processes with the same prefix there ({@link #removeStale}). The caller deletes it when done with
   * {@link Registration#delete()}.
   */
  public static Registration scratch(Path parent, String prefix, String what) {
    try {
      Files.createDirectories(parent);
    } catch (IOException e) {
      throw failure("cannot create the scratch parent folder " + parent, e);
    }
    removeStale(parent, prefix);
    try {
      return create(parent, prefix, what);
    } catch (IOException e) {
      throw failure("cannot create a scratch folder in " + parent, e);
    }
  }

  /** Records this process as the owner of {@code folder}. */
  public static void writeOwner(Path folder) throws IOException {
    Files.writeString(folder.resolve(OWNER_FILE), Owner.current().toText(), StandardCharsets.UTF_8);
  }

  /** Registers an existing folder for removal on SIGINT / SIGTERM. */
  public static Registration register(Path folder, String what) {
    installHook();
    Registration registration = new Registration(folder, what);
    REGISTERED.put(folder, registration);
    return registration;
  }

  private static synchronized void installHook() {
    if (!hookInstalled) {
      Runtime.getRuntime().addShutdownHook(new Thread(TemporaryFolders::removeAllRegistered, "megabridge-cleanup"));
      hookInstalled = true;
    }
  }

  private static void removeAllRegistered() {
    for (Registration registration : List.copyOf(REGISTERED.values())) {
      registration.removeOnShutdown();
    }
  }

  /** What {@link #removeStale} found: removed folders, and folders it left with the reason. */
  public record StaleReport(List<Path> removed, Map<Path, String> kept) {}

  /**
   * Removes the entries of {@code parent} named {@code <prefix>*} whose owner file shows a gone process
   * ({@link Owner#isGone}), and reports what it removed and what it kept and why.
   */
  public static StaleReport removeStale(Path parent, String prefix) {
    List<Path> removed = new ArrayList<>();
    Map<Path, String> kept = new LinkedHashMap<>();
    if (!Files.isDirectory(parent)) {
      return new StaleReport(removed, kept);
    }
    List<Path> candidates = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(parent, entry ->
        entry.getFileName().toString().startsWith(prefix))) {
      entries.forEach(candidates::add);
    } catch (IOException e) {
      return new StaleReport(removed, kept);
    }
    for (Path candidate : candidates) {
      if (REGISTERED.containsKey(candidate)) {
        continue;
      }
      Optional<Owner> owner = readOwner(candidate);
      if (owner.isEmpty()) {
        kept.put(candidate, "it has no readable " + OWNER_FILE + " file, so its owner is unknown");
      } else if (!owner.get().isGone()) {
        kept.put(candidate, "its owner, " + owner.get().describe() + ", may still be writing it");
      } else if (deleteBestEffort(candidate)) {
        removed.add(candidate);
      } else {
        kept.put(candidate, "it could not be deleted completely");
      }
    }
    removed.forEach(path -> report("removed stale temporary folder " + path
        + " (left by an interrupted run whose process is gone)"));
    kept.forEach((path, why) -> report("kept temporary folder " + path + ": " + why));
    return new StaleReport(removed, kept);
  }

  /** The owner recorded in {@code folder}, if it has a readable, complete owner file. */
  static Optional<Owner> readOwner(Path folder) {
    try {
      return Owner.parse(Files.readString(folder.resolve(OWNER_FILE), StandardCharsets.UTF_8));
    } catch (IOException | UncheckedIOException e) {
      return Optional.empty();
    }
  }

  /**
   * Deletes {@code root} and everything below it, tolerating files that vanish or appear meanwhile (threads may
   * still be writing into it): a few passes until it is gone and stays gone for a moment. Returns whether it is gone.
   */
  public static boolean deleteBestEffort(Path root) {
    for (int pass = 0; pass < 20; pass++) {
      if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
        pause(30);
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
          return true;
        }
      }
      try {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
            Files.deleteIfExists(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFileFailed(Path file, IOException failure) {
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path directory, IOException failure) throws IOException {
            try {
              Files.deleteIfExists(directory);
            } catch (DirectoryNotEmptyException appeared) {
              // A writer created a file meanwhile: the next pass takes it.
            }
            return FileVisitResult.CONTINUE;
          }
        });
      } catch (NoSuchFileException gone) {
        // Removed meanwhile.
      } catch (IOException e) {
        pause(10);
      }
    }
    return !Files.exists(root, LinkOption.NOFOLLOW_LINKS);
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The kernel's host name, so that a folder on a shared file system is never judged by another host's pids. */
  private static String hostName() {
    try {
      String name = Files.readString(Path.of("/proc/sys/kernel/hostname"), StandardCharsets.UTF_8).trim();
      if (!name.isEmpty()) {
        return name;
      }
    } catch (IOException | UncheckedIOException | SecurityException e) {
      // Not Linux: the environment's name below.
    }
    String fromEnvironment = System.getenv("HOSTNAME");
    return fromEnvironment != null && !fromEnvironment.isBlank() ? fromEnvironment.trim() : "unknown-host";
  }

  /** An {@link EnvironmentException} for an environment failure of {@code what}, else an unchecked I/O error. */
  static RuntimeException failure(String what, IOException e) {
    return EnvironmentException.of(what, e).<RuntimeException>map(environment -> environment)
        .orElseGet(() -> new UncheckedIOException(what + ": " + (e instanceof FileSystemException fileSystem
            && fileSystem.getReason() == null ? e.getClass().getSimpleName() + " " + e.getMessage() : e.getMessage()), e));
  }
}
