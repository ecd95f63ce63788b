package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12, items 4, 5 and 11 through the CLI: flipped bytes in torch_dist archives and shards rank files are caught
 * (exit 3 naming file, entry, expected and computed CRC), ranks of two checkpoints are not mixed in one folder,
 * swapped rank files are refused, and an incomplete shards folder fails {@code inspect} unless allowed.
 */
class IntegrityCliTest {

  @TempDir
  Path temp;

  private static Path fixture(String name) {
    return CliTest.fixture(name);
  }

  private static Run run(String... args) {
    return CliTest.run(args);
  }

  // ------------------------------------------------------------------------------------------- item 4, torch_dist

  @Test
  void flippedByteInADistcpRecordFailsExportConvertAndInspectVerify() throws IOException {
    Path save = temp.resolve("save");
    assertThat(run("import", fixture("qwen35_moe_vl_bf16").toString(), save.toString(), "--format", "torch_dist",
        "--quiet").exitCode()).isZero();
    assertThat(run("inspect", save.toString(), "--verify").exitCode()).isZero();
    Path distcp = largestFile(save.resolve("release"), ".distcp");
    flipByte(distcp, Files.size(distcp) / 2);

    Run exported = run("export", save.toString(), temp.resolve("hf").toString(), "--quiet");
    assertThat(exported.exitCode()).as(exported.err()).isEqualTo(3);
    assertThat(exported.err()).contains(distcp.getFileName().toString(), "CRC-32 mismatch", "expected", "computed",
        "record 'archive/data/");
    assertThat(temp.resolve("hf")).doesNotExist();

    Run converted = run("convert", save.toString(), temp.resolve("shards").toString(), "--format", "shards", "--tp",
        "2", "--quiet");
    assertThat(converted.exitCode()).as(converted.err()).isEqualTo(3);
    assertThat(converted.err()).contains("CRC-32 mismatch");

    Run verified = run("inspect", save.toString(), "--verify");
    assertThat(verified.exitCode()).isEqualTo(3);
    assertThat(verified.err()).contains(distcp.getFileName().toString(), "CRC-32 mismatch");
  }

  // ------------------------------------------------------------------------------------------- item 4, shards

  @Test
  void flippedByteInARankFileFailsExportStreamExportForwardAndInspectVerify() throws IOException {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--tp", "2", "--quiet")
        .exitCode()).isZero();
    Run clean = run("inspect", shards.toString(), "--verify", "--json");
    assertThat(clean.exitCode()).as(clean.err()).isZero();
    assertThat(clean.out()).contains("verified: every rank file's header and tensor CRC-32 match");
    // Rank 0's copy is what an export reads of a replicated weight (a corrupted replica elsewhere is found by --verify).
    Path rankFile = shards.resolve("mp_rank_00_000/model.safetensors");
    String tensor = flipByteInLargestTensor(rankFile);

    Run exported = run("export", shards.toString(), temp.resolve("hf").toString(), "--quiet");
    assertThat(exported.exitCode()).as(exported.err()).isEqualTo(3);
    assertThat(exported.err()).contains(rankFile.toString(), "tensor '" + tensor + "'", "CRC-32 mismatch", "expected",
        "computed");
    assertThat(temp.resolve("hf")).doesNotExist();

    Run streamed = run("stream-export", shards.toString(), "--bucket-size", "64KiB", "--out",
        temp.resolve("buckets").toString(), "--quiet");
    assertThat(streamed.exitCode()).as(streamed.err()).isEqualTo(3);
    assertThat(streamed.err()).contains("tensor '" + tensor + "'", "CRC-32 mismatch");

    Path inputs = temp.resolve("inputs.safetensors");
    try (SafetensorsCheckpoint reference = CliFixtures.reference("qwen35_dense_vl")) {
      SafetensorsWriter.writeFile(inputs, List.of(new SafetensorsWriter.Entry("input_ids",
          reference.tensor("text.input_ids"))), bytes -> { });
    }
    Run forward = run("forward", shards.toString(), "--inputs", inputs.toString(), "--out",
        temp.resolve("logits.safetensors").toString());
    assertThat(forward.exitCode()).as(forward.err()).isEqualTo(3);
    assertThat(forward.err()).contains("tensor '" + tensor + "'", "CRC-32 mismatch");

    Run verified = run("inspect", shards.toString(), "--verify");
    assertThat(verified.exitCode()).isEqualTo(3);
    assertThat(verified.err()).contains(rankFile.toString(), "CRC-32 mismatch");
  }

  @Test
  void shardsFolderWithoutChecksumsStaysReadableAndSaysSo() throws IOException {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--tp", "2", "--quiet")
        .exitCode()).isZero();
    // What an earlier megabridge wrote: no source identity in megabridge.json, no checksums.json.
    ObjectNode manifest = (ObjectNode) Output.JSON.readTree(shards.resolve("megabridge.json").toFile());
    manifest.remove("source_identity");
    Files.writeString(shards.resolve("megabridge.json"), manifest.toPrettyString());
    for (String rank : List.of("mp_rank_00_000", "mp_rank_01_000")) {
      Files.delete(shards.resolve(rank).resolve("checksums.json"));
    }
    Run inspected = run("inspect", shards.toString());
    assertThat(inspected.exitCode()).as(inspected.err()).isZero();
    assertThat(inspected.out()).contains("no checksums recorded");
    assertThat(run("export", shards.toString(), temp.resolve("hf").toString(), "--quiet").exitCode()).isZero();
    assertThat(CheckpointComparison.compare(fixture("qwen35_dense_vl"), temp.resolve("hf")).identical()).isTrue();
    Run verify = run("inspect", shards.toString(), "--verify");
    assertThat(verify.exitCode()).isEqualTo(3);
    assertThat(verify.err()).contains("no checksums recorded");
  }

  @Test
  void rankFolderWithoutItsChecksumsIsRefused() throws IOException {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--tp", "2", "--quiet")
        .exitCode()).isZero();
    Files.delete(shards.resolve("mp_rank_01_000/checksums.json"));
    Run exported = run("export", shards.toString(), temp.resolve("hf").toString(), "--quiet");
    assertThat(exported.exitCode()).isEqualTo(3);
    assertThat(exported.err()).contains("mp_rank_01_000/checksums.json is missing");
  }

  // ------------------------------------------------------------------------------------------- item 5

  @Test
  void ranksOfAnotherCheckpointWithTheSameShapesAreRefused() throws IOException {
    Path sourceB = temp.resolve("b");
    CliTest.copyFolder(fixture("qwen35_dense_vl"), sourceB);
    // B: the same tensor list, one value changed (a different training of the same model, in miniature).
    flipByteInLargestTensor(sourceB.resolve("model.safetensors"), 0);
    Path shared = temp.resolve("shared");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shared.toString(), "--tp", "2", "--pp", "2",
        "--ranks", "0-1", "--quiet").exitCode()).isZero();
    Run mixed = run("import", sourceB.toString(), shared.toString(), "--tp", "2", "--pp", "2", "--ranks", "2-3",
        "--quiet");
    assertThat(mixed.exitCode()).as(mixed.err()).isEqualTo(2);
    String identityA = Output.JSON.readTree(shared.resolve("megabridge.json").toFile()).get("source_identity").asText();
    assertThat(identityA).startsWith("sha256:");
    assertThat(mixed.err()).contains(identityA, sourceB.toString(), "cannot be mixed")
        .containsPattern("is the source sha256:[0-9a-f]{64}");
    assertThat(mixed.err()).doesNotContain("is the source " + identityA);
    assertThat(shared.resolve("mp_rank_00_001")).doesNotExist();

    // Rank folders written from B elsewhere and copied in are refused when read.
    Path other = temp.resolve("other");
    assertThat(run("import", sourceB.toString(), other.toString(), "--tp", "2", "--pp", "2", "--quiet").exitCode())
        .isZero();
    for (String rank : List.of("mp_rank_00_001", "mp_rank_01_001")) {
      CliTest.copyFolder(other.resolve(rank), shared.resolve(rank));
    }
    Run exported = run("export", shared.toString(), temp.resolve("hf").toString(), "--quiet");
    assertThat(exported.exitCode()).isEqualTo(3);
    assertThat(exported.err()).contains("mp_rank_00_001/model.safetensors", "was written from the source",
        identityA, "another checkpoint");
  }

  @Test
  void swappedRankFilesAreRefused() throws IOException {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--tp", "2", "--quiet")
        .exitCode()).isZero();
    Path first = shards.resolve("mp_rank_00_000/model.safetensors");
    Path second = shards.resolve("mp_rank_01_000/model.safetensors");
    Path aside = temp.resolve("aside.safetensors");
    Files.move(first, aside);
    Files.move(second, first);
    Files.move(aside, second);
    Run exported = run("export", shards.toString(), temp.resolve("hf").toString(), "--quiet");
    assertThat(exported.exitCode()).as(exported.err()).isEqualTo(3);
    assertThat(exported.err()).contains("mp_rank_00_000/model.safetensors", "is the rank file of mp_rank_01_000",
        "swapped");
    // The whole rank folders swapped (checksums.json along) are refused the same way.
    Files.move(second, aside);
    Files.move(first, second);
    Files.move(aside, first);
    Path folderAside = temp.resolve("aside");
    Files.move(shards.resolve("mp_rank_00_000"), folderAside);
    Files.move(shards.resolve("mp_rank_01_000"), shards.resolve("mp_rank_00_000"));
    Files.move(folderAside, shards.resolve("mp_rank_01_000"));
    Run swappedFolders = run("export", shards.toString(), temp.resolve("hf").toString(), "--quiet");
    assertThat(swappedFolders.exitCode()).isEqualTo(3);
    assertThat(swappedFolders.err()).contains("is the rank file of mp_rank_01_000");
  }

  // ------------------------------------------------------------------------------------------- item 11

  @Test
  void inspectOfAnIncompleteShardsFolderExitsThreeUnlessAllowed() throws IOException {
    Path shared = temp.resolve("shared");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shared.toString(), "--tp", "2", "--ranks", "0",
        "--quiet").exitCode()).isZero();
    Run incomplete = run("inspect", shared.toString());
    assertThat(incomplete.exitCode()).isEqualTo(3);
    assertThat(incomplete.out()).contains("status: incomplete");
    assertThat(incomplete.err()).contains("--allow-incomplete");
    Run allowed = run("inspect", shared.toString(), "--allow-incomplete", "--json");
    assertThat(allowed.exitCode()).isZero();
    JsonNode report = Output.JSON.readTree(allowed.out());
    assertThat(report.get("ranks_missing")).hasSize(1);
  }

  // ------------------------------------------------------------------------------------------- helpers

  private static Path largestFile(Path folder, String suffix) throws IOException {
    try (Stream<Path> files = Files.list(folder)) {
      return files.filter(file -> file.getFileName().toString().endsWith(suffix))
          .max(Comparator.comparingLong(file -> file.toFile().length())).orElseThrow();
    }
  }

  private static void flipByte(Path file, long position) throws IOException {
    try (RandomAccessFile access = new RandomAccessFile(file.toFile(), "rw")) {
      access.seek(position);
      int value = access.read();
      access.seek(position);
      access.write(value ^ 0x01);
    }
  }

  /** Flips one bit in the middle of the largest tensor of a safetensors file; returns the tensor's name. */
  private static String flipByteInLargestTensor(Path file) throws IOException {
    return flipByteInLargestTensor(file, -1);
  }

  /** Flips one bit at {@code byteInTensor} (-1: the middle) of the largest tensor; returns its name. */
  private static String flipByteInLargestTensor(Path file, long byteInTensor) throws IOException {
    long headerLength;
    JsonNode header;
    try (RandomAccessFile access = new RandomAccessFile(file.toFile(), "r")) {
      byte[] length = new byte[8];
      access.readFully(length);
      headerLength = ByteBuffer.wrap(length).order(ByteOrder.LITTLE_ENDIAN).getLong();
      byte[] json = new byte[Math.toIntExact(headerLength)];
      access.readFully(json);
      header = Output.JSON.readTree(json);
    }
    String largest = null;
    long begin = 0;
    long size = -1;
    for (Map.Entry<String, JsonNode> entry : header.properties()) {
      if (entry.getKey().equals("__metadata__")) {
        continue;
      }
      long start = entry.getValue().get("data_offsets").get(0).asLong();
      long end = entry.getValue().get("data_offsets").get(1).asLong();
      if (end - start > size) {
        largest = entry.getKey();
        begin = start;
        size = end - start;
      }
    }
    flipByte(file, 8 + headerLength + begin + (byteInTensor < 0 ? size / 2 : byteInTensor));
    return largest;
  }
}
