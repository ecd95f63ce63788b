package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.EnvironmentException;
import dev.megabridge.core.error.UsageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link OutputDirectory}: the target appears only complete, on commit; otherwise it stays as it was. */
class OutputDirectoryTest {

  @TempDir Path parent;

  private long siblings() throws IOException {
    try (Stream<Path> paths = Files.list(parent)) {
      return paths.count();
    }
  }

  @Test
  void writesIntoAHiddenSiblingAndRenamesOnCommit() throws IOException {
    Path target = parent.resolve("out");
    try (OutputDirectory output = OutputDirectory.create(target, false)) {
      assertThat(output.path().getParent()).isEqualTo(parent);
      assertThat(output.path().getFileName().toString()).startsWith(".out.tmp-");
      Files.writeString(output.path().resolve("a.txt"), "a");
      Files.createDirectories(output.path().resolve("sub"));
      Files.writeString(output.path().resolve("sub/b.txt"), "b");
      assertThat(target).doesNotExist();
      output.commit();
      assertThat(output.target()).isEqualTo(target);
    }
    assertThat(Files.readString(target.resolve("a.txt"))).isEqualTo("a");
    assertThat(Files.readString(target.resolve("sub/b.txt"))).isEqualTo("b");
    assertThat(siblings()).as("no temporary folder left").isEqualTo(1);
  }

  @Test
  void closingWithoutCommitLeavesNothing() throws IOException {
    Path target = parent.resolve("out");
    try (OutputDirectory output = OutputDirectory.create(target, false)) {
      Files.writeString(output.path().resolve("partial"), "x");
    }
    assertThat(target).doesNotExist();
    assertThat(siblings()).isZero();
  }

  @Test
  void refusesAnExistingTargetUnlessOverwriting() throws IOException {
    Path target = Files.createDirectories(parent.resolve("out"));
    Files.writeString(target.resolve("old.txt"), "old");
    assertThatThrownBy(() -> OutputDirectory.create(target, false)).isInstanceOf(UsageException.class)
        .hasMessageContaining(target.toString());
    try (OutputDirectory output = OutputDirectory.create(target, true)) {
      Files.writeString(output.path().resolve("new.txt"), "new");
      assertThat(target.resolve("old.txt")).exists();
      output.commit();
    }
    assertThat(target.resolve("old.txt")).doesNotExist();
    assertThat(Files.readString(target.resolve("new.txt"))).isEqualTo("new");
    assertThat(siblings()).isEqualTo(1);
  }

  @Test
  void aTargetThatAppearsWhileWritingIsNotReplaced() throws IOException {
    Path target = parent.resolve("out");
    try (OutputDirectory output = OutputDirectory.create(target, false)) {
      Files.createDirectories(target);
      Files.writeString(target.resolve("theirs.txt"), "theirs");
      assertThatThrownBy(output::commit).isInstanceOf(UsageException.class).hasMessageContaining("appeared");
    }
    assertThat(Files.readString(target.resolve("theirs.txt"))).isEqualTo("theirs");
    assertThat(siblings()).isEqualTo(1);
  }

  @Test
  void committingTwiceKeepsTheResult() throws IOException {
    Path target = parent.resolve("out");
    try (OutputDirectory output = OutputDirectory.create(target, true)) {
      Files.writeString(output.path().resolve("a.txt"), "a");
      output.commit();
      assertThatThrownBy(output::commit).isInstanceOf(IllegalStateException.class);
    }
    assertThat(Files.readString(target.resolve("a.txt"))).isEqualTo("a");
  }

  @Test
  void createsMissingParents() throws IOException {
    Path target = parent.resolve("x/y/out");
    try (OutputDirectory output = OutputDirectory.create(target, false)) {
      output.commit();
    }
    assertThat(target).isDirectory();
  }

  @Test
  void refusesAnOutputThatIsContainsOrLiesInsideASource() throws IOException {
    Path source = Files.createDirectories(parent.resolve("models/model"));
    Files.writeString(source.resolve("config.json"), "{}");
    Path link = Files.createSymbolicLink(parent.resolve("link"), source);
    for (boolean overwrite : new boolean[] {false, true}) {
      assertThatThrownBy(() -> OutputDirectory.create(source, overwrite, List.of(source)))
          .isInstanceOf(UsageException.class).hasMessageContaining("output " + source + " is the source " + source);
      assertThatThrownBy(() -> OutputDirectory.create(source.getParent(), overwrite, List.of(source)))
          .isInstanceOf(UsageException.class)
          .hasMessageContaining("output " + source.getParent() + " contains the source " + source);
      assertThatThrownBy(() -> OutputDirectory.create(source.resolve("out"), overwrite, List.of(source)))
          .isInstanceOf(UsageException.class).hasMessageContaining("lies inside the source " + source);
      assertThatThrownBy(() -> OutputDirectory.create(link.resolve("new/out"), overwrite, List.of(source)))
          .isInstanceOf(UsageException.class)
          .hasMessageContaining("output " + link.resolve("new/out") + " (" + source.resolve("new/out") + ")");
      assertThatThrownBy(() -> OutputDirectory.create(link, overwrite, List.of(source)))
          .as("a symlink to the source is the source").isInstanceOf(UsageException.class);
    }
    try (Stream<Path> files = Files.walk(parent)) {
      assertThat(files.map(parent::relativize).map(Path::toString).sorted().toList())
          .as("nothing written").containsExactly("", "link", "models", "models/model", "models/model/config.json");
    }
    try (OutputDirectory beside = OutputDirectory.create(parent.resolve("models/out"), false, List.of(source))) {
      beside.commit();
    }
    assertThat(parent.resolve("models/out")).isDirectory();
  }

  @Test
  void refusesTheCurrentFolderAndItsAncestors() {
    // Thrown before anything is created: never committed, so even a broken check would not replace the folder.
    Path current = Path.of("").toAbsolutePath();
    assertThatThrownBy(() -> OutputDirectory.create(current, true)).isInstanceOf(UsageException.class)
        .hasMessageContaining(current + " is the current folder");
    assertThatThrownBy(() -> OutputDirectory.create(current.getParent(), true)).isInstanceOf(UsageException.class)
        .hasMessageContaining(current.getParent() + " contains the current folder");
  }

  @Test
  void anEmptyExistingFolderIsUsedWithoutOverwrite() throws IOException {
    Path target = Files.createDirectories(parent.resolve("out"));
    try (OutputDirectory output = OutputDirectory.create(target, false)) {
      Files.writeString(output.path().resolve("a.txt"), "a");
      output.commit();
    }
    assertThat(Files.readString(target.resolve("a.txt"))).isEqualTo("a");
    assertThat(siblings()).isEqualTo(1);
    assertThatThrownBy(() -> OutputDirectory.create(target, false)).as("no longer empty")
        .isInstanceOf(UsageException.class).hasMessageContaining("already exists");
  }

  @Test
  void anEmptyFolderThatFillsWhileWritingIsNotReplaced() throws IOException {
    Path target = Files.createDirectories(parent.resolve("out"));
    try (OutputDirectory output = OutputDirectory.create(target, false)) {
      Files.writeString(target.resolve("theirs.txt"), "theirs");
      assertThatThrownBy(output::commit).isInstanceOf(UsageException.class);
    }
    assertThat(Files.readString(target.resolve("theirs.txt"))).isEqualTo("theirs");
    assertThat(siblings()).isEqualTo(1);
  }

  @Test
  void theCommittedFolderHasTheModeOfAPlainNewFolder() throws IOException {
    Path probe = Files.createDirectory(parent.resolve("probe"));
    Path target = parent.resolve("out");
    try (OutputDirectory output = OutputDirectory.create(target, false)) {
      output.commit();
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(target)))
        .isEqualTo(PosixFilePermissions.toString(Files.getPosixFilePermissions(probe)));
    assertThat(target.resolve(TemporaryFolders.OWNER_FILE)).as("the owner file is not part of the output")
        .doesNotExist();
  }

  @Test
  void staleTemporariesOfGoneProcessesAreRemovedOthersKept() throws Exception {
    Process finished = new ProcessBuilder("true").start();
    finished.waitFor();
    TemporaryFolders.Owner gone = new TemporaryFolders.Owner(finished.pid(),
        finished.info().startInstant(), TemporaryFolders.Owner.current().host());
    Path stale = Files.createDirectory(parent.resolve(".out.tmp-stale"));
    Files.writeString(stale.resolve(TemporaryFolders.OWNER_FILE), gone.toText());
    Files.writeString(stale.resolve("partial.safetensors"), "partial");
    Path live = Files.createDirectory(parent.resolve(".out.tmp-live"));
    Files.writeString(live.resolve(TemporaryFolders.OWNER_FILE), TemporaryFolders.Owner.current().toText());
    Path unknown = Files.createDirectory(parent.resolve(".out.tmp-unknown"));
    Path otherOutput = Files.createDirectory(parent.resolve(".other.tmp-stale"));
    Files.writeString(otherOutput.resolve(TemporaryFolders.OWNER_FILE), gone.toText());
    String err = noticesOf(() -> {
      try (OutputDirectory output = OutputDirectory.create(parent.resolve("out"), false)) {
        output.commit();
      }
    });
    assertThat(stale).doesNotExist();
    assertThat(live).exists();
    assertThat(unknown).exists();
    assertThat(otherOutput).as("another output's temporaries are not looked at").exists();
    assertThat(err).contains("removed stale temporary folder " + stale)
        .contains("kept temporary folder " + live + ": its owner, process " + ProcessHandle.current().pid()
            + ", may still be writing it")
        .contains("kept temporary folder " + unknown + ": it has no readable .megabridge-owner file");
  }

  @Test
  void aReplacedOutputIsRemovedWhenStaleButKeptWhileTheOutputIsMissing() throws Exception {
    Process finished = new ProcessBuilder("true").start();
    finished.waitFor();
    String gone = new TemporaryFolders.Owner(finished.pid(), finished.info().startInstant(),
        TemporaryFolders.Owner.current().host()).toText();
    Path old = Files.createDirectory(parent.resolve(".out.old-killed"));
    Files.writeString(old.resolve(TemporaryFolders.OWNER_FILE), gone);
    Files.writeString(old.resolve("weights"), "the only copy");
    String err = noticesOf(() -> {
      try (OutputDirectory output = OutputDirectory.create(parent.resolve("out"), false)) {
        output.commit();
      }
    });
    assertThat(old.resolve("weights")).exists();
    assertThat(err).contains("kept " + old + ": a run replacing " + parent.resolve("out") + " was killed");
    err = noticesOf(() -> {
      try (OutputDirectory output = OutputDirectory.create(parent.resolve("out"), true)) {
        output.commit();
      }
    });
    assertThat(old).as("the output exists now: the old copy is garbage").doesNotExist();
    assertThat(err).contains("removed stale temporary folder " + old);
    assertThat(siblings()).isEqualTo(1);
  }

  @Test
  void anUnwritableParentIsAnEnvironmentError() throws IOException {
    // As root permissions do not apply; sysfs refuses mkdir in its root with EPERM for everyone.
    boolean root = "root".equals(System.getProperty("user.name"));
    Path readOnly = root ? Path.of("/sys") : parent.resolve("read-only");
    if (!root) {
      Files.createDirectory(readOnly, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("r-xr-xr-x")));
    }
    assertThatThrownBy(() -> OutputDirectory.create(readOnly.resolve("megabridge-test-out"), false))
        .isInstanceOf(EnvironmentException.class)
        .hasMessageContaining("cannot create a temporary folder beside " + readOnly.resolve("megabridge-test-out"))
        .hasMessageContaining(root ? "Operation not permitted (EPERM)" : "Permission denied (EACCES)");
  }

  /** The notices {@link TemporaryFolders} reported while {@code action} ran, one per line. */
  private static synchronized String noticesOf(Runnable action) {
    List<String> notices = new CopyOnWriteArrayList<>();
    TemporaryFolders.reportTo(notices::add);
    try {
      action.run();
    } finally {
      TemporaryFolders.reportTo(message -> {});
    }
    return String.join("\n", notices);
  }
}
