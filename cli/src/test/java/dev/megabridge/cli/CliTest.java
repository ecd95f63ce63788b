package dev.megabridge.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands end to end through {@link Main#execute}: outputs, exit codes, one-line errors. */
class CliTest {

  @TempDir
  Path temp;

  record Run(int exitCode, String out, String err) {}

  /** Copies the files of folder {@code from} into {@code to} (created if needed, existing files replaced). */
  static Path copyFolder(Path from, Path to) throws IOException {
    Files.createDirectories(to);
    try (Stream<Path> files = Files.list(from)) {
      for (Path file : files.toList()) {
        Files.copy(file, to.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return to;
  }

  static Path fixture(String name) {
    return Path.of(System.getProperty("megabridge.fixtures", "../fixtures")).resolve("qwen35-tiny").resolve(name);
  }

  static synchronized Run run(String... args) {
    PrintStream originalOut = System.out;
    PrintStream originalErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = Main.execute(args);
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(originalOut);
      System.setErr(originalErr);
    }
  }

  @Test
  void unknownCommandPrintsUsageAndExitsTwo() {
    Run result = run("frobnicate");
    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err()).contains("Usage: megabridge");
  }

  @Test
  void importExportRoundTripsThroughTheCommandLine() {
    Path shards = temp.resolve("shards");
    Path exported = temp.resolve("exported");
    Run imported = run("import", fixture("qwen35_moe_vl_bf16").toString(), shards.toString(), "--tp", "2", "--ep", "2",
        "--etp", "1", "--mtp-naming", "legacy", "--json", "--quiet");
    assertThat(imported.exitCode()).as(imported.err()).isZero();
    assertThat(shards.resolve("mp_rank_01_000_001/model.safetensors")).exists();
    Run export = run("export", shards.toString(), exported.toString(), "--quiet");
    assertThat(export.exitCode()).as(export.err()).isZero();
    assertThat(CheckpointComparison.compare(fixture("qwen35_moe_vl_bf16"), exported).differences()).isEmpty();
    assertThat(exported.resolve("config.json")).exists();
    assertThat(exported.resolve("generation_config.json")).exists();
  }

  @Test
  void legacyMtpNamingIsWrittenOnDisk() {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_dense_vl").toString(), shards.toString(), "--mtp-naming", "legacy",
        "--quiet").exitCode()).isZero();
    try (SafetensorsCheckpoint rank = SafetensorsCheckpoint.openFiles(shards,
        List.of(shards.resolve("mp_rank_00_000/model.safetensors")))) {
      assertThat(rank.names()).anyMatch(name -> name.contains(".mtp.layers.0.transformer_layer."));
      assertThat(rank.names()).noneMatch(name -> name.contains("mtp_model_layer"));
    }
  }

  @Test
  void existingOutputIsRefusedAndLeftUntouched() throws IOException {
    Path output = temp.resolve("out");
    Files.createDirectories(output);
    Files.writeString(output.resolve("keep.txt"), "mine");
    Run result = run("import", fixture("qwen35_dense_vl").toString(), output.toString(), "--quiet");
    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err()).contains("already exists").contains("--overwrite");
    try (Stream<Path> files = Files.list(output)) {
      assertThat(files.map(path -> path.getFileName().toString())).containsExactly("keep.txt");
    }
    assertThat(leftovers()).isEmpty();
  }

  @Test
  void layoutTheShapesDoNotAllowIsRejectedNamingTheDimension() {
    Run result = run("import", fixture("qwen35_dense_vl").toString(), temp.resolve("out").toString(), "--tp", "4");
    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err().strip()).startsWith("error: tp = 4 does not divide text_config.num_key_value_heads");
    assertThat(temp.resolve("out")).doesNotExist();
    assertThat(leftovers()).isEmpty();
  }

  @Test
  void nonPositiveComputeThreadsAreABadArgument() {
    Path model = fixture("qwen35_dense_vl");
    for (String command : List.of("forward", "generate")) {
      List<String> arguments = new java.util.ArrayList<>(List.of(command, model.toString(), "--threads", "0"));
      arguments.addAll(command.equals("forward")
          ? List.of("--inputs", model.resolve("config.json").toString(), "--out", temp.resolve("o").toString())
          : List.of("--prompt-ids", "1,2", "--max-new-tokens", "1"));
      Run result = run(arguments.toArray(String[]::new));
      assertThat(result.exitCode()).as(command).isEqualTo(2);
      assertThat(result.err().strip()).as(command).isEqualTo("error: --threads must be positive, got 0");
    }
  }

  @Test
  void expertParallelismOnADenseModelIsRejectedButTheDefaultEtpIsNot() {
    Run rejected = run("import", fixture("qwen35_dense_vl").toString(), temp.resolve("out").toString(), "--ep", "2");
    assertThat(rejected.exitCode()).isEqualTo(2);
    assertThat(rejected.err().strip()).isEqualTo(
        "error: ep = 2: expert parallelism needs a MoE model (Qwen3_5ForConditionalGeneration is dense)");
    assertThat(temp.resolve("out")).doesNotExist();

    // The default etp follows tp (Megatron-core); on a dense model it splits nothing and is accepted.
    Run accepted = run("import", fixture("qwen35_dense_vl").toString(), temp.resolve("out").toString(), "--tp", "2",
        "--json", "--quiet");
    assertThat(accepted.exitCode()).as(accepted.err()).isZero();
    assertThat(accepted.out()).contains("tp2-pp1-vpp1-ep1-etp2");
  }

  @Test
  void corruptShardIsBadInputWithOneLineNamingTheFile() throws IOException {
    Path bad = temp.resolve("bad");
    Files.createDirectories(bad);
    Files.copy(fixture("qwen35_dense_vl").resolve("config.json"), bad.resolve("config.json"));
    byte[] bytes = Files.readAllBytes(fixture("qwen35_dense_vl").resolve("model.safetensors"));
    Files.write(bad.resolve("model.safetensors"), java.util.Arrays.copyOf(bytes, bytes.length - 100));
    Run result = run("inspect", bad.toString());
    assertThat(result.exitCode()).isEqualTo(3);
    assertThat(result.err().strip().lines()).hasSize(1);
    assertThat(result.err()).contains(bad.resolve("model.safetensors").toString()).doesNotContain("at dev.");
  }

  @Test
  void missingTensorIsBadInputListingIt() throws IOException {
    Path source = fixture("qwen35_dense_vl");
    Path broken = temp.resolve("broken");
    Files.createDirectories(broken);
    Files.copy(source.resolve("config.json"), broken.resolve("config.json"));
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(source)) {
      List<dev.megabridge.core.io.safetensors.SafetensorsWriter.Entry> entries = new ArrayList<>();
      for (String name : checkpoint.names()) {
        if (!name.equals("model.language_model.layers.3.self_attn.k_norm.weight")) {
          entries.add(new dev.megabridge.core.io.safetensors.SafetensorsWriter.Entry(name, checkpoint.tensor(name)));
        }
      }
      dev.megabridge.core.io.safetensors.SafetensorsWriter.writeFile(broken.resolve("model.safetensors"), entries,
          bytes -> { });
    }
    Run result = run("import", broken.toString(), temp.resolve("out").toString());
    assertThat(result.exitCode()).isEqualTo(3);
    assertThat(result.err()).contains("model.language_model.layers.3.self_attn.k_norm.weight");
    assertThat(temp.resolve("out")).doesNotExist();
  }

  @Test
  void ranksWrittenByDifferentNodesCompleteTheFolder() throws IOException {
    Path shared = temp.resolve("shared");
    String source = fixture("qwen35_moe_vl").toString();
    assertThat(run("import", source, shared.toString(), "--tp", "2", "--ep", "2", "--ranks", "0-1", "--quiet")
        .exitCode()).isZero();
    Run partial = run("inspect", shared.toString(), "--json");
    JsonNode report = Output.JSON.readTree(partial.out());
    assertThat(report.get("ranks_missing")).hasSize(2);
    assertThat(run("export", shared.toString(), temp.resolve("early").toString()).exitCode()).isEqualTo(3);
    assertThat(run("import", source, shared.toString(), "--tp", "2", "--ep", "2", "--ranks", "2,3", "--quiet")
        .exitCode()).isZero();
    JsonNode complete = Output.JSON.readTree(run("inspect", shared.toString(), "--json").out());
    assertThat(complete.get("ranks_missing")).isEmpty();
    assertThat(run("export", shared.toString(), temp.resolve("hf").toString(), "--quiet").exitCode()).isZero();
    assertThat(CheckpointComparison.compare(fixture("qwen35_moe_vl"), temp.resolve("hf")).identical()).isTrue();
    Run otherLayout = run("import", source, shared.toString(), "--tp", "1", "--ranks", "0");
    assertThat(otherLayout.exitCode()).isEqualTo(2);
    assertThat(otherLayout.err()).contains("different conversion");
  }

  @Test
  void streamExportBucketsConcatenateToTheExport() throws IOException {
    Path shards = temp.resolve("shards");
    assertThat(run("import", fixture("qwen35_moe_vl_packed_bf16").toString(), shards.toString(), "--tp", "2", "--ep",
        "4", "--quiet").exitCode()).isZero();
    // 40 KiB is below the largest tensors (embedding and lm_head 128 KiB, patch embedding 96 KiB, packed
    // gate_up_proj 64 KiB = 8 experts of 8 KiB): they must be split, the experts one piece per expert.
    long limit = 40 * 1024;
    Path buckets = temp.resolve("buckets");
    Run streamed = run("stream-export", shards.toString(), "--bucket-size", "40KiB", "--out", buckets.toString(),
        "--json");
    assertThat(streamed.exitCode()).as(streamed.err()).isZero();
    JsonNode manifest = Output.JSON.readTree(buckets.resolve("manifest.json").toFile());
    JsonNode split = manifest.get("split_tensors");
    List<String> order = new ArrayList<>();
    long largest = 0;
    try (SafetensorsCheckpoint source = SafetensorsCheckpoint.open(fixture("qwen35_moe_vl_packed_bf16"))) {
      java.util.Map<String, java.io.ByteArrayOutputStream> pieces = new java.util.LinkedHashMap<>();
      for (JsonNode bucket : manifest.get("buckets")) {
        Path file = buckets.resolve(bucket.get("file").asText());
        try (SafetensorsCheckpoint part = SafetensorsCheckpoint.openFiles(buckets, List.of(file))) {
          long bytes = part.names().stream().mapToLong(name -> part.info(name).byteSize()).sum();
          assertThat(bytes).as(file.toString()).isLessThanOrEqualTo(limit).isEqualTo(bucket.get("bytes").asLong());
          largest = Math.max(largest, bytes);
          for (String key : part.names()) {
            if (source.contains(key)) {
              order.add(key);
              assertThat(Tensor.contentEquals(part.tensor(key), source.tensor(key))).as(key).isTrue();
              continue;
            }
            String name = key.substring(0, key.lastIndexOf('['));
            if (!order.contains(name)) {
              order.add(name);
            }
            pieces.computeIfAbsent(name, n -> new java.io.ByteArrayOutputStream())
                .writeBytes(part.tensor(key).toByteArray());
          }
        }
      }
      assertThat(order).containsExactlyElementsOf(source.names());
      assertThat(pieces.keySet()).containsExactlyInAnyOrderElementsOf(() -> split.fieldNames());
      for (var entry : pieces.entrySet()) {
        JsonNode described = split.get(entry.getKey());
        assertThat(described.get("dtype").asText()).isEqualTo(source.dtype(entry.getKey()).name());
        long rows = 0;
        for (JsonNode piece : described.get("pieces")) {
          assertThat(piece.get("rows").get(0).asLong()).isEqualTo(rows);
          rows = piece.get("rows").get(1).asLong();
          assertThat(piece.get("key").asText()).isEqualTo(entry.getKey() + "[" + piece.get("rows").get(0).asLong()
              + ":" + rows + "]");
        }
        assertThat(rows).isEqualTo(source.shape(entry.getKey()).dim(0));
        assertThat(entry.getValue().toByteArray()).as("%s reassembled", entry.getKey())
            .isEqualTo(source.tensor(entry.getKey()).toByteArray());
      }
      JsonNode experts = split.get("model.language_model.layers.0.mlp.experts.gate_up_proj");
      assertThat(experts.get("split").asText()).isEqualTo("per_expert");
      assertThat(experts.get("pieces").size()).isEqualTo(8);
      assertThat(split.has("model.language_model.embed_tokens.weight")).isTrue();
      assertThat(split.has("model.language_model.layers.0.mlp.experts.down_proj")).as("32 KiB fits").isFalse();
    }
    JsonNode report = Output.JSON.readTree(streamed.out());
    assertThat(report.get("largest_bucket_bytes").asLong()).isEqualTo(largest);
    assertThat(manifest.get("largest_bucket_bytes").asLong()).isEqualTo(largest);
    assertThat(manifest.get("buckets").size()).isGreaterThan(5);
    Run text = run("stream-export", shards.toString(), "--bucket-size", "40KiB", "--out",
        temp.resolve("b2").toString());
    assertThat(text.out()).contains("the largest " + ByteSizes.format(largest) + " (limit 40.0 KiB)");
    Run tooSmall = run("stream-export", shards.toString(), "--bucket-size", "1KiB", "--out",
        temp.resolve("b3").toString());
    assertThat(tooSmall.exitCode()).isEqualTo(2);
    assertThat(tooSmall.err()).contains("bucket size 1024 bytes", "bytes per ");
    assertThat(temp.resolve("b3")).doesNotExist();
  }

  @Test
  void providerWorksOnAConfigOnlyFolder() throws IOException {
    Path folder = temp.resolve("config-only");
    Files.createDirectories(folder);
    Files.copy(fixture("qwen35_dense_vl").resolve("config.json"), folder.resolve("config.json"));
    Run json = run("provider", folder.toString(), "--format", "json");
    assertThat(json.exitCode()).as(json.err()).isZero();
    JsonNode provider = Output.JSON.readTree(json.out());
    assertThat(provider.get("position_embedding_type").asText()).isEqualTo("mrope");
    assertThat(provider.get("num_layers").asInt()).isEqualTo(8);
    Run args = run("provider", folder.toString(), "--format", "megatron-args");
    assertThat(args.out()).contains("--untie-embeddings-and-output-weights").contains("--mrope-section 3 3 2");
  }

  @Test
  void configOnlyFolderGivesAPerRankPlan() throws IOException {
    Path folder = temp.resolve("config-only");
    Files.createDirectories(folder);
    Files.copy(fixture("qwen35_moe_vl").resolve("config.json"), folder.resolve("config.json"));
    Run plan = run("inspect", folder.toString(), "--tp", "2", "--ep", "4", "--pp", "2", "--json");
    assertThat(plan.exitCode()).as(plan.err()).isZero();
    JsonNode report = Output.JSON.readTree(plan.out());
    assertThat(report.get("ranks")).hasSize(2 * 4 * 2);
    long total = 0;
    for (JsonNode rank : report.get("ranks")) {
      total += rank.get("bytes").asLong();
    }
    // Float32 config: every rank holds a share; experts are split 4 ways, the rest replicated per EP rank.
    assertThat(total).isGreaterThan(4L * 1024 * 64 * 4);
    assertThat(run("inspect", folder.toString(), "--tp", "4").exitCode()).isEqualTo(2);
  }

  @Test
  void inspectDescribesTorchDistCheckpoints() throws IOException {
    Path checkpoint = temp.resolve("td");
    assertThat(run("import", fixture("qwen35_moe_vl_packed_bf16").toString(), checkpoint.toString(), "--format",
        "torch_dist", "--quiet").exitCode()).isZero();
    JsonNode ours = Output.JSON.readTree(run("inspect", checkpoint.toString(), "--json").out());
    assertThat(ours.get("kind").asText()).isEqualTo("torch_dist");
    assertThat(ours.get("architecture").asText()).isEqualTo("Qwen3_5MoeForConditionalGeneration");
    assertThat(ours.get("hf_tensors").asInt()).isEqualTo(215);
    Path megatrons = Path.of(System.getProperty("megabridge.fixtures", "../fixtures"))
        .resolve("torch-dist-tiny/mcore_main_2026-08-22_common_state_in_dcp");
    Run foreign = run("inspect", megatrons.toString(), "--json");
    assertThat(foreign.exitCode()).as(foreign.err()).isZero();
    assertThat(Output.JSON.readTree(foreign.out()).get("megabridge_sidecar").asBoolean()).isFalse();
  }

  private List<Path> leftovers() {
    try (Stream<Path> files = Files.list(temp)) {
      return files.filter(path -> path.getFileName().toString().contains(".tmp-")).toList();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
