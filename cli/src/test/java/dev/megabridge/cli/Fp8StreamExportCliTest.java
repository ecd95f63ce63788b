package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stream-export --quantize fp8-block}: the buckets, reassembled from the manifest alone, are bit for bit the
 * tensors of {@code export --quantize fp8-block} of the same shards, every scale (or scale piece) travels in the
 * bucket of its weight (or weight piece), and no bucket is over the limit.
 */
class Fp8StreamExportCliTest {
  private static final String BLOCKS = "16x32";
  private static final int BLOCK_ROWS = 16;
  /** 8 KiB: below a packed gate_up_proj with scales (33024 bytes, 4128 per expert), an mtp q_proj (33024 bytes),
   *  and in_proj_qkv [128, 64] with its scales (8192 + 64 bytes, whose codes alone would fit). */
  private static final long LIMIT = 8 * 1024;

  @TempDir
  Path temp;

  /** A tensor as reassembled from the buckets. */
  private record Rebuilt(DType dtype, Shape shape, byte[] bytes) {}

  @Test
  void packedExpertBucketsReassembleToTheFp8Export() throws IOException {
    Path shards = importShards("qwen35_moe_vl_packed_bf16", "--tp", "2", "--ep", "4");
    JsonNode split = streamMatchesExport(shards).get("split_tensors");
    String experts = "model.language_model.layers.0.mlp.experts.gate_up_proj";
    assertThat(split.get(experts).get("split").asText()).isEqualTo("per_expert");
    assertThat(split.get(experts).get("pieces")).hasSize(8);
    assertThat(split.get(experts).get("scale_inv").asText()).isEqualTo(experts + "_scale_inv");
    assertThat(split.get(experts + "_scale_inv").get("shape").toString()).isEqualTo("[8,4,2]");
    assertThat(split.get("mtp.layers.0.self_attn.q_proj.weight").get("split").asText()).isEqualTo("rows");
  }

  @Test
  void denseBucketsReassembleToTheFp8Export() throws IOException {
    Path shards = importShards("qwen35_dense_vl_bf16", "--tp", "2");
    JsonNode split = streamMatchesExport(shards).get("split_tensors");
    String qkv = "model.language_model.layers.0.linear_attn.in_proj_qkv.weight";
    assertThat(split.has(qkv)).as("8192 bytes of codes fit, not with their 64 bytes of scales").isTrue();
    assertThat(split.get(qkv + "_scale_inv").get("scale_of").asText()).isEqualTo(qkv);
    assertThat(split.has("model.language_model.layers.0.linear_attn.in_proj_z.weight")).isFalse();
    assertThat(split.has("model.language_model.embed_tokens.weight")).as("bf16, split in rows").isTrue();
  }

  @Test
  void aBucketBelowOneBandWithItsScalesOrABlockSizeAloneIsABadArgument() {
    Path shards = importShards("qwen35_moe_vl_packed_bf16", "--tp", "2", "--ep", "4");
    // 4000 bytes hold a row of every bf16 tensor (at most 3072 bytes) but not an expert of gate_up_proj or a
    // band of 16 rows of o_proj [64, 256] with their scales (4096 + 32 bytes).
    Run tooSmall = run("stream-export", shards.toString(), temp.resolve("small").toString(), "--bucket-size", "4000",
        "--quantize", "fp8-block", "--block-size", BLOCKS);
    assertThat(tooSmall.exitCode()).as(tooSmall.err()).isEqualTo(2);
    assertThat(tooSmall.err()).contains("bucket size 4000 bytes", "of the FP8 tensor '", "4128 bytes per ");
    assertThat(temp.resolve("small")).doesNotExist();
    Run blockSizeAlone = run("stream-export", shards.toString(), temp.resolve("plain").toString(), "--block-size",
        BLOCKS);
    assertThat(blockSizeAlone.exitCode()).isEqualTo(2);
    assertThat(blockSizeAlone.err()).contains("--block-size");
    assertThat(temp.resolve("plain")).doesNotExist();
  }

  private Path importShards(String fixtureName, String... layout) {
    Path shards = temp.resolve("shards");
    List<String> args = new ArrayList<>(List.of("import", fixture(fixtureName).toString(), shards.toString()));
    args.addAll(List.of(layout));
    args.add("--quiet");
    Run imported = run(args.toArray(String[]::new));
    assertThat(imported.exitCode()).as(imported.err()).isZero();
    return shards;
  }

  /** Streams and exports {@code shards} as FP8, checks the buckets against the export, returns the manifest. */
  private JsonNode streamMatchesExport(Path shards) throws IOException {
    Path exported = temp.resolve("exported");
    Run export = run("export", shards.toString(), exported.toString(), "--quantize", "fp8-block", "--block-size",
        BLOCKS, "--quiet");
    assertThat(export.exitCode()).as(export.err()).isZero();
    Path buckets = temp.resolve("buckets");
    Run streamed = run("stream-export", shards.toString(), buckets.toString(), "--bucket-size", "8KiB", "--quantize",
        "fp8-block", "--block-size", BLOCKS, "--json", "--quiet");
    assertThat(streamed.exitCode()).as(streamed.err()).isZero();
    JsonNode manifest = Output.JSON.readTree(buckets.resolve("manifest.json").toFile());
    JsonNode split = manifest.get("split_tensors");
    assertThat(manifest.get(Fp8Config.KEY).get("weight_block_size").toString()).isEqualTo("[16,32]");

    // Where the manifest says each piece is.
    Map<String, String> pieceFile = new HashMap<>();
    split.forEach(entry -> entry.get("pieces").forEach(piece ->
        pieceFile.put(piece.get("key").asText(), piece.get("file").asText())));
    Map<String, Rebuilt> whole = new LinkedHashMap<>();
    Map<String, byte[]> pieces = new HashMap<>();
    Map<String, Set<String>> keysByFile = new HashMap<>();
    long largest = 0;
    for (JsonNode bucket : manifest.get("buckets")) {
      String file = bucket.get("file").asText();
      try (SafetensorsCheckpoint part = SafetensorsCheckpoint.openFiles(buckets, List.of(buckets.resolve(file)))) {
        long bytes = part.names().stream().mapToLong(name -> part.info(name).byteSize()).sum();
        assertThat(bytes).as(file).isLessThanOrEqualTo(LIMIT).isEqualTo(bucket.get("bytes").asLong());
        largest = Math.max(largest, bytes);
        List<String> listed = StreamSupport.stream(bucket.get("tensors").spliterator(), false)
            .map(JsonNode::asText).toList();
        assertThat(part.names()).as(file).containsExactlyInAnyOrderElementsOf(listed);
        keysByFile.put(file, Set.copyOf(listed));
        for (String key : listed) {
          if (pieceFile.containsKey(key)) {
            assertThat(pieceFile.get(key)).as(key).isEqualTo(file);
            pieces.put(key, part.tensor(key).toByteArray());
          } else {
            whole.put(key, new Rebuilt(part.dtype(key), part.shape(key), part.tensor(key).toByteArray()));
          }
        }
      }
    }
    assertThat(largest).isEqualTo(manifest.get("largest_bucket_bytes").asLong());
    assertThat(Output.JSON.readTree(streamed.out()).get("largest_bucket_bytes").asLong()).isEqualTo(largest);

    Map<String, Rebuilt> rebuilt = new LinkedHashMap<>(whole);
    split.properties().forEach(entry -> {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      long next = 0;
      for (JsonNode piece : entry.getValue().get("pieces")) {
        assertThat(piece.get("rows").get(0).asLong()).as(entry.getKey()).isEqualTo(next);
        next = piece.get("rows").get(1).asLong();
        bytes.writeBytes(pieces.get(piece.get("key").asText()));
      }
      List<Long> dims = StreamSupport.stream(entry.getValue().get("shape").spliterator(), false)
          .map(JsonNode::asLong).toList();
      assertThat(next).as(entry.getKey()).isEqualTo(dims.getFirst());
      DType dtype = DType.fromSafetensorsName(entry.getValue().get("dtype").asText()).orElseThrow();
      rebuilt.put(entry.getKey(), new Rebuilt(dtype, Shape.of(dims), bytes.toByteArray()));
    });

    int quantized = 0;
    try (SafetensorsCheckpoint reference = SafetensorsCheckpoint.open(exported)) {
      assertThat(rebuilt.keySet()).containsExactlyInAnyOrderElementsOf(reference.names());
      for (String name : reference.names()) {
        Rebuilt tensor = rebuilt.get(name);
        assertThat(tensor.dtype()).as(name).isEqualTo(reference.dtype(name));
        assertThat(tensor.shape()).as(name).isEqualTo(reference.shape(name));
        assertThat(tensor.bytes()).as("%s bit for bit", name).isEqualTo(reference.tensor(name).toByteArray());
        if (reference.dtype(name) == DType.F8_E4M3) {
          quantized++;
          assertScaleTravelsWithItsWeight(name, split, keysByFile, whole.keySet());
        }
      }
    }
    assertThat(quantized).isGreaterThan(10);
    return manifest;
  }

  /** The scale of {@code weight} is in the bucket of the weight, or each scale piece in that of its weight piece. */
  private static void assertScaleTravelsWithItsWeight(String weight, JsonNode split,
      Map<String, Set<String>> keysByFile, Set<String> whole) {
    String scale = Fp8Config.scaleName(weight);
    if (whole.contains(weight)) {
      assertThat(whole).as(scale + " whole, as its weight").contains(scale);
      assertThat(keysByFile.values().stream().filter(keys -> keys.contains(weight)).toList())
          .as(weight).singleElement().satisfies(keys -> assertThat(keys).contains(scale));
      return;
    }
    JsonNode weightPieces = split.get(weight).get("pieces");
    JsonNode scaleEntry = split.get(split.get(weight).get("scale_inv").asText());
    assertThat(split.get(weight).get("scale_inv").asText()).isEqualTo(scale);
    assertThat(scaleEntry.get("scale_of").asText()).isEqualTo(weight);
    JsonNode scalePieces = scaleEntry.get("pieces");
    assertThat(scalePieces).as(scale).hasSize(weightPieces.size());
    boolean perExpert = split.get(weight).get("split").asText().equals("per_expert");
    for (int index = 0; index < weightPieces.size(); index++) {
      JsonNode piece = weightPieces.get(index);
      JsonNode scalePiece = scalePieces.get(index);
      assertThat(scalePiece.get("file").asText()).as(scalePiece.get("key").asText())
          .isEqualTo(piece.get("file").asText());
      long begin = piece.get("rows").get(0).asLong();
      long end = piece.get("rows").get(1).asLong();
      if (!perExpert) {
        assertThat(begin % BLOCK_ROWS).as(piece.get("key").asText()).isZero();
        begin = begin / BLOCK_ROWS;
        end = Math.ceilDiv(end, BLOCK_ROWS);
      }
      assertThat(scalePiece.get("rows").toString()).as(scalePiece.get("key").asText())
          .isEqualTo("[" + begin + "," + end + "]");
    }
    assertThat(StreamSupport.stream(weightPieces.spliterator(), false).map(piece -> piece.get("file").asText())
        .collect(Collectors.toSet())).as("%s spans buckets", weight).hasSizeGreaterThan(1);
  }
}
