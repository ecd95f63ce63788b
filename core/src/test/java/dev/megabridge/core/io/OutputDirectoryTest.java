package dev.megabridge.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.UsageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
}
