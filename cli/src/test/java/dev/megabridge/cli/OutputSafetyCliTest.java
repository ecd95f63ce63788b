package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.config.HfConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 items 1, 2, 9 and 13 through the commands: an output never replaces or enters the source, names read from
 * a manifest never leave their folder, environment failures exit 4, an empty existing output folder is used.
 */
class OutputSafetyCliTest {

  @TempDir
  Path temp;

  private Path copyOfFixture(String name, Path destination) throws IOException {
    return CliTest.copyFolder(fixture(name), destination);
  }

  private static List<String> listing(Path folder) throws IOException {
    try (Stream<Path> files = Files.walk(folder)) {
      return files.map(folder::relativize).map(Path::toString).sorted().toList();
    }
  }

  @Test
  void overwriteNeverReplacesTheSourceOrItsFolder() throws IOException {
    Path parent = temp.resolve("parent");
    Path model = copyOfFixture("qwen35_dense_vl", parent.resolve("model"));
    Files.writeString(parent.resolve("sibling.txt"), "keep");
    List<String> before = listing(parent);

    Run same = run("import", model.toString(), model.toString(), "--overwrite", "--quiet");
    assertThat(same.exitCode()).as(same.err()).isEqualTo(2);
    assertThat(same.err()).contains("error: output " + model + " is the source " + model);

    Run around = run("import", model.toString(), parent.toString(), "--overwrite", "--quiet");
    assertThat(around.exitCode()).isEqualTo(2);
    assertThat(around.err()).contains("error: output " + parent + " contains the source " + model);

    Run inside = run("import", model.toString(), model.resolve("megatron").toString(), "--quiet");
    assertThat(inside.exitCode()).isEqualTo(2);
    assertThat(inside.err()).contains("lies inside the source " + model);

    Run ranks = run("import", model.toString(), parent.toString(), "--ranks", "0", "--overwrite", "--quiet");
    assertThat(ranks.exitCode()).as("--ranks writes into a shared folder: same rule").isEqualTo(2);
    assertThat(ranks.err()).contains("contains the source " + model);

    Run torchDist = run("import", model.toString(), model.toString(), "--format", "torch_dist", "--overwrite",
        "--quiet");
    assertThat(torchDist.exitCode()).isEqualTo(2);
    assertThat(torchDist.err()).contains("is the source " + model);
    assertThat(listing(parent)).as("nothing changed").isEqualTo(before);

    Path shards = temp.resolve("shards");
    assertThat(run("import", model.toString(), shards.toString(), "--quiet").exitCode()).isZero();
    List<String> shardsBefore = listing(shards);
    for (List<String> command : List.of(
        List.of("export", shards.toString(), shards.toString(), "--overwrite"),
        List.of("convert", shards.toString(), shards.toString(), "--format", "shards", "--overwrite"),
        List.of("convert", shards.toString(), shards.toString(), "--format", "torch_dist", "--overwrite"),
        List.of("stream-export", shards.toString(), "--out", shards.toString(), "--overwrite"),
        List.of("stream-export", shards.toString(), "--out", temp.toString(), "--overwrite"))) {
      Run refused = run(Stream.concat(command.stream(), Stream.of("--quiet")).toArray(String[]::new));
      assertThat(refused.exitCode()).as(command + ": " + refused.err()).isEqualTo(2);
      assertThat(refused.err()).as(command.toString()).contains(" the source " + shards);
    }
    assertThat(listing(shards)).isEqualTo(shardsBefore);

    Path save = temp.resolve("save");
    assertThat(run("import", model.toString(), save.toString(), "--format", "torch_dist", "--quiet").exitCode())
        .isZero();
    Run hfConfig = run("export", save.toString(), model.toString(), "--hf-config", model.toString(), "--overwrite",
        "--quiet");
    assertThat(hfConfig.exitCode()).as(hfConfig.err()).isEqualTo(2);
    assertThat(hfConfig.err()).contains("is the source " + model);
    assertThat(listing(parent)).isEqualTo(before);
  }

  @Test
  void forwardNeverWritesOverItsInputsOrIntoTheModel() throws IOException {
    Path model = copyOfFixture("qwen35_dense_vl", temp.resolve("model"));
    Path inputs = Files.writeString(temp.resolve("inputs.safetensors"), "not read: refused before");
    List<String> before = listing(temp);
    Run overInputs = run("forward", model.toString(), "--inputs", inputs.toString(), "--out", inputs.toString(),
        "--overwrite");
    assertThat(overInputs.exitCode()).as(overInputs.err()).isEqualTo(2);
    assertThat(overInputs.err()).contains("output " + inputs + " is the source " + inputs);
    Path weights = model.resolve("model.safetensors");
    Run intoModel = run("forward", model.toString(), "--inputs", inputs.toString(), "--out", weights.toString(),
        "--overwrite");
    assertThat(intoModel.exitCode()).isEqualTo(2);
    assertThat(intoModel.err()).contains("output " + weights + " lies inside the source " + model);
    assertThat(listing(temp)).isEqualTo(before);
    assertThat(Files.readString(inputs)).isEqualTo("not read: refused before");
  }

  @Test
  void symlinksAreResolved() throws IOException {
    Path model = copyOfFixture("qwen35_dense_vl", temp.resolve("model"));
    Path link = Files.createSymbolicLink(temp.resolve("link"), model);
    Run refused = run("import", model.toString(), link.toString(), "--overwrite", "--quiet");
    assertThat(refused.exitCode()).isEqualTo(2);
    assertThat(refused.err()).contains("output " + link + " (" + model.toRealPath() + ") is the source");
    assertThat(Files.isSymbolicLink(link)).isTrue();
  }

  @Test
  void anEmptyExistingOutputFolderIsUsedWithoutOverwrite() throws IOException {
    Path shards = Files.createDirectories(temp.resolve("shards"));
    Run imported = run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--quiet");
    assertThat(imported.exitCode()).as(imported.err()).isZero();
    assertThat(shards.resolve("megabridge.json")).exists();
    Run again = run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--quiet");
    assertThat(again.exitCode()).isEqualTo(2);
    assertThat(again.err()).contains(shards + " already exists (pass --overwrite to replace it)");
  }

  @Test
  void aSmallFileNamedOutsideTheShardsFolderIsRefused() throws IOException {
    Path shards = temp.resolve("work/shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--quiet").exitCode())
        .isZero();
    // What the old code would have copied: shards/hf/../../P to <staging of work/out>/../../P = temp/P.
    Files.writeString(shards.resolve("hf/../../P"), "payload");
    Path manifest = shards.resolve("megabridge.json");
    ObjectNode root = (ObjectNode) HfConfig.JSON.readTree(Files.readString(manifest));
    ((ArrayNode) root.get("hf_files")).add("../../P");
    Files.writeString(manifest, root.toPrettyString());

    Run export = run("export", shards.toString(), temp.resolve("work/out").toString(), "--quiet");
    assertThat(export.exitCode()).as(export.err()).isEqualTo(3);
    assertThat(export.err()).contains("error: " + manifest + ": hf_files entry '../../P' is not a plain file name");
    assertThat(temp.resolve("P")).doesNotExist();
    assertThat(temp.resolve("work/out")).doesNotExist();
  }

  @Test
  void aSmallFileNamedOutsideTheTorchDistCheckpointIsRefused() throws IOException {
    Path save = temp.resolve("work/save");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), save.toString(), "--format", "torch_dist",
        "--quiet").exitCode()).isZero();
    Path sidecar = save.resolve("release/megabridge-torchdist.json");
    // The old code copied save/release/hf/../../P to <staging of work/out>/../../P = temp/P.
    Files.writeString(save.resolve("P"), "payload");
    ObjectNode root = (ObjectNode) HfConfig.JSON.readTree(Files.readString(sidecar));
    ((ArrayNode) root.get("hf_files")).add("../../P");
    Files.writeString(sidecar, root.toPrettyString());

    Run export = run("export", save.toString(), temp.resolve("work/out").toString(), "--quiet");
    assertThat(export.exitCode()).as(export.err()).isEqualTo(3);
    assertThat(export.err()).contains(sidecar + ": hf_files entry '../../P' is not a plain file name");
    assertThat(temp.resolve("P")).doesNotExist();
    assertThat(temp.resolve("work/out")).doesNotExist();
  }

  @Test
  void aTensorFileOrRankFolderOutsideTheShardsFolderIsRefused() throws IOException {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--quiet").exitCode())
        .isZero();
    Path manifest = shards.resolve("megabridge.json");
    String original = Files.readString(manifest);

    ObjectNode tensorFile = (ObjectNode) HfConfig.JSON.readTree(original);
    ((ObjectNode) tensorFile.get("hf_tensors").get(0)).put("file", "../escaped.safetensors");
    Files.writeString(manifest, tensorFile.toPrettyString());
    Run export = run("export", shards.toString(), temp.resolve("out").toString(), "--quiet");
    assertThat(export.exitCode()).as(export.err()).isEqualTo(3);
    assertThat(export.err()).contains("hf_tensors[].file '../escaped.safetensors' is not a plain file name");

    ObjectNode rankDirectory = (ObjectNode) HfConfig.JSON.readTree(original);
    ((ObjectNode) rankDirectory.get("ranks").get(0)).put("directory", "/tmp");
    Files.writeString(manifest, rankDirectory.toPrettyString());
    Run inspect = run("inspect", shards.toString());
    assertThat(inspect.exitCode()).as(inspect.err()).isEqualTo(3);
    assertThat(inspect.err()).contains("ranks[].directory '/tmp' is not a plain file name");
    assertThat(temp.resolve("out")).doesNotExist();
    assertThat(temp.resolve("escaped.safetensors")).doesNotExist();
  }

  @Test
  void anUnwritableOutputIsAnEnvironmentErrorWithExitFour() throws IOException {
    // Running as root, permissions do not apply: sysfs refuses to create anything in its root (EPERM) for anyone.
    boolean root = "root".equals(System.getProperty("user.name"));
    Path readOnly = root ? Path.of("/sys") : Files.createDirectory(temp.resolve("read-only"),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("r-xr-xr-x")));
    Path output = readOnly.resolve("megabridge-test-out");
    Run refused = run("import", fixture("qwen35_dense_vl").toString(), output.toString(), "--quiet");
    assertThat(refused.exitCode()).as(refused.err()).isEqualTo(4);
    assertThat(refused.err()).contains("error: cannot create a temporary folder beside " + output + ": "
        + (root ? "Operation not permitted (EPERM)" : "Permission denied (EACCES)"));
  }
}
