package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.config.HfConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Errors name the file and the key; bad data in files is exit 3, bad arguments exit 2 (issue 12, item 10). */
class ClearErrorsTest {

  @TempDir
  Path temp;

  private Path shardsWithEditedLayout(String key, int value) throws IOException {
    Path shards = temp.resolve("shards");
    Run imported = run("import", fixture("qwen35_moe_vl").toString(), shards.toString(), "--tp", "2", "--ep", "2",
        "--quiet");
    assertThat(imported.exitCode()).as(imported.err()).isZero();
    Path manifest = shards.resolve("megabridge.json");
    ObjectNode root = (ObjectNode) HfConfig.JSON.readTree(manifest.toFile());
    ((ObjectNode) root.get("layout")).put(key, value);
    Files.writeString(manifest, root.toPrettyString());
    return shards;
  }

  @Test
  void anInconsistentLayoutInTheManifestNamesTheFileAndIsBadData() throws IOException {
    Path shards = shardsWithEditedLayout("tp", 1);
    for (List<String> command : List.of(List.of("inspect", shards.toString()),
        List.of("export", shards.toString(), temp.resolve("hf").toString()))) {
      Run result = run(command.toArray(String[]::new));
      assertThat(result.exitCode()).as(command.toString()).isEqualTo(3);
      assertThat(result.err().strip()).as(command.toString()).isEqualTo("error: " + shards.resolve("megabridge.json")
          + ": layout: etp = 2 must divide tp = 1 (the recorded layout is inconsistent; the file was edited or damaged)");
    }
  }

  @Test
  void aManifestLayoutTheModelCannotTakeNamesTheFileAndIsBadData() throws IOException {
    Path shards = shardsWithEditedLayout("ep", 3);
    Run result = run("export", shards.toString(), temp.resolve("hf").toString());
    assertThat(result.exitCode()).isEqualTo(3);
    assertThat(result.err().strip()).isEqualTo("error: " + shards.resolve("megabridge.json")
        + ": layout: ep = 3 does not divide text_config.num_experts = 8");
  }

  @Test
  void aMissingOrMistypedManifestKeyIsNamedOnceWithItsFile() throws IOException {
    Path shards = shardsWithEditedLayout("tp", 2);
    Path manifest = shards.resolve("megabridge.json");
    ObjectNode root = (ObjectNode) HfConfig.JSON.readTree(manifest.toFile());
    ((ObjectNode) root.get("layout")).remove("tp");
    Files.writeString(manifest, root.toPrettyString());
    Run missing = run("inspect", shards.toString());
    assertThat(missing.exitCode()).isEqualTo(3);
    assertThat(missing.err().strip()).isEqualTo("error: " + manifest + ": missing key 'layout.tp'");

    ((ObjectNode) root.get("layout")).put("tp", 2);
    root.put("mtp_naming", "newest");
    Files.writeString(manifest, root.toPrettyString());
    Run unknown = run("inspect", shards.toString());
    assertThat(unknown.exitCode()).isEqualTo(3);
    assertThat(unknown.err().strip())
        .isEqualTo("error: " + manifest + ": mtp_naming: 'newest' is not one of [current, legacy]");

    Files.write(manifest, new byte[] {(byte) 0xff, '{', '}'});
    Run binary = run("inspect", shards.toString());
    assertThat(binary.exitCode()).isEqualTo(3);
    assertThat(binary.err().strip()).isEqualTo("error: " + manifest + ": not UTF-8 text (a JSON file is expected)");
  }

  @Test
  void aMissingHiddenSizeIsNamedAsTheMissingKey() throws IOException {
    Path folder = temp.resolve("no-hidden-size");
    Files.createDirectories(folder);
    ObjectNode config = (ObjectNode) HfConfig.JSON.readTree(fixture("qwen35_moe_vl").resolve("config.json").toFile());
    ((ObjectNode) config.get("text_config")).remove("hidden_size");
    Files.writeString(folder.resolve("config.json"), config.toPrettyString());
    for (String command : List.of("inspect", "provider")) {
      Run result = run(command, folder.toString());
      assertThat(result.exitCode()).as(command).isEqualTo(3);
      assertThat(result.err().strip()).as(command).isEqualTo("error: " + folder.resolve("config.json")
          + ": missing key 'text_config.hidden_size' (its default 2048 differs from vision_config.out_hidden_size 64)");
    }
  }

  @Test
  void aMissingInputSaysItDoesNotExist() {
    Path missing = temp.resolve("nothing-here");
    Run inspect = run("inspect", missing.toString());
    assertThat(inspect.exitCode()).isEqualTo(2);
    assertThat(inspect.err().strip()).isEqualTo("error: folder " + missing + " does not exist");
    Run imported = run("import", missing.toString(), temp.resolve("out").toString());
    assertThat(imported.exitCode()).isEqualTo(2);
    assertThat(imported.err().strip()).isEqualTo("error: HF folder " + missing + " does not exist");
  }

  @Test
  void aFileWhereAFolderIsExpectedIsNotADirectory() throws IOException {
    Path file = Files.writeString(temp.resolve("file"), "x");
    Run result = run("inspect", file.toString());
    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err().strip()).isEqualTo("error: folder " + file + " is not a directory");
  }

  @Test
  void symbolicLinkLoopsAndDanglingLinksAreSaidSo() throws IOException {
    Path first = temp.resolve("loop-a");
    Path second = temp.resolve("loop-b");
    Files.createSymbolicLink(first, second);
    Files.createSymbolicLink(second, first);
    Run loop = run("inspect", first.toString());
    assertThat(loop.exitCode()).isEqualTo(2);
    assertThat(loop.err()).startsWith("error: folder " + first + " cannot be resolved: a symbolic link loop");
    Path dangling = Files.createSymbolicLink(temp.resolve("dangling"), temp.resolve("gone"));
    Run broken = run("export", dangling.toString(), temp.resolve("out").toString());
    assertThat(broken.exitCode()).isEqualTo(2);
    assertThat(broken.err().strip()).isEqualTo("error: source folder " + dangling + " is a symbolic link to "
        + temp.resolve("gone") + ", which does not exist");
  }

  @Test
  void aTrackerFileThatIsNotUtf8IsSaidSoNamingTheFile() throws IOException {
    Path checkpoint = temp.resolve("td");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), checkpoint.toString(), "--format", "torch_dist",
        "--quiet").exitCode()).isZero();
    Path tracker = checkpoint.resolve("latest_checkpointed_iteration.txt");
    Files.write(tracker, new byte[] {(byte) 0xff, (byte) 0xfe, 'r', 0});
    for (List<String> command : List.of(List.of("inspect", checkpoint.toString()),
        List.of("export", checkpoint.toString(), temp.resolve("hf").toString()))) {
      Run result = run(command.toArray(String[]::new));
      assertThat(result.exitCode()).as(command.toString()).isEqualTo(3);
      assertThat(result.err().strip()).as(command.toString())
          .isEqualTo("error: " + tracker + ": not UTF-8 text (expected an iteration number or 'release')");
    }
  }

  @Test
  void aConfigThatIsNotUtf8IsSaidSoNamingTheFile() throws IOException {
    Path folder = Files.createDirectories(temp.resolve("latin1"));
    Files.write(folder.resolve("config.json"), new byte[] {'{', '"', (byte) 0xe9, '"', ':', '1', '}'});
    Run result = run("inspect", folder.toString());
    assertThat(result.exitCode()).isEqualTo(3);
    assertThat(result.err().strip())
        .isEqualTo("error: " + folder.resolve("config.json") + ": not UTF-8 text (a JSON file is expected)");
  }
}
