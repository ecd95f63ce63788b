package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.cli.CliTest.Run;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dtypes end to end: export under {@code --dtype} keeps the bridge's float32-by-design tensors and makes
 * {@code config.json} name the dtype; a source with mixed dtypes is an error unless allowed; a config dtype
 * that disagrees with the weights is a warning.
 */
class DtypeCliTest {

  private static final String A_LOG = "model.language_model.layers.0.linear_attn.A_log";
  private static final String GDN_NORM = "model.language_model.layers.0.linear_attn.norm.weight";
  /** A tensor that a single mapping consumes alone, so a relabelled dtype reaches no fused merge. */
  private static final String DOWN_PROJ = "model.language_model.layers.0.mlp.down_proj.weight";

  @TempDir
  Path temp;

  private static boolean keptFloat32(String name) {
    return name.endsWith(".linear_attn.A_log") || name.endsWith(".linear_attn.norm.weight");
  }

  /** The exported folder against the F32 source: exceptions bit-identical F32, the rest BF16 of the same values. */
  private static void assertBf16ExceptGdnFloat32(Path source, Path exported) {
    try (SafetensorsCheckpoint original = SafetensorsCheckpoint.open(source);
        SafetensorsCheckpoint written = SafetensorsCheckpoint.open(exported)) {
      assertThat(written.names()).containsExactlyInAnyOrderElementsOf(original.names());
      int kept = 0;
      for (String name : written.names()) {
        assertThat(original.dtype(name)).isEqualTo(DType.F32);
        if (keptFloat32(name)) {
          kept++;
          assertThat(written.dtype(name)).as(name).isEqualTo(DType.F32);
          assertThat(Tensor.contentEquals(written.tensor(name), original.tensor(name))).as(name).isTrue();
        } else {
          assertThat(written.dtype(name)).as(name).isEqualTo(DType.BF16);
          assertThat(written.tensor(name).toByteArray()).as(name)
              .isEqualTo(original.tensor(name).convert(DType.BF16).toByteArray());
        }
      }
      assertThat(kept).as("A_log and norm of every Gated DeltaNet layer").isEqualTo(12);
      assertThat(written.dtype(A_LOG)).isEqualTo(DType.F32);
      assertThat(written.dtype(GDN_NORM)).isEqualTo(DType.F32);
    }
  }

  private static JsonNode config(Path folder) throws IOException {
    return Output.JSON.readTree(folder.resolve("config.json").toFile());
  }

  /** Everything but the dtype keys is the source config's. */
  private static void assertSameConfigBesidesDtype(Path source, Path exported) throws IOException {
    ObjectNode expected = (ObjectNode) config(source);
    ObjectNode actual = (ObjectNode) config(exported);
    expected.remove("dtype");
    actual.remove("dtype");
    assertThat(actual).isEqualTo(expected);
  }

  @Test
  void exportToBf16KeepsTheFloat32TensorsAndWritesTheConfigDtype() throws IOException {
    Path source = fixture("qwen35_moe_vl");
    Path shards = temp.resolve("shards");
    assertThat(run("import", source.toString(), shards.toString(), "--tp", "2", "--ep", "2", "--quiet").exitCode())
        .isZero();
    Path bf16 = temp.resolve("bf16");
    Run exported = run("export", shards.toString(), bf16.toString(), "--dtype", "bf16", "--quiet");
    assertThat(exported.exitCode()).as(exported.err()).isZero();
    assertBf16ExceptGdnFloat32(source, bf16);
    assertThat(config(source).get("dtype").asText()).isEqualTo("float32");
    assertThat(config(bf16).get("dtype").asText()).isEqualTo("bfloat16");
    assertSameConfigBesidesDtype(source, bf16);

    Path td = temp.resolve("td");
    assertThat(run("import", source.toString(), td.toString(), "--format", "torch_dist", "--quiet").exitCode())
        .isZero();
    Path fromTorchDist = temp.resolve("td-bf16");
    Run tdExported = run("export", td.toString(), fromTorchDist.toString(), "--dtype", "bf16", "--quiet");
    assertThat(tdExported.exitCode()).as(tdExported.err()).isZero();
    assertBf16ExceptGdnFloat32(source, fromTorchDist);
    assertThat(config(fromTorchDist).get("dtype").asText()).isEqualTo("bfloat16");
  }

  @Test
  void exportToFp32WritesFloat32EverywhereAndInTheConfig() throws IOException {
    Path source = fixture("qwen35_dense_vl_bf16");
    Path shards = temp.resolve("shards");
    assertThat(run("import", source.toString(), shards.toString(), "--tp", "2", "--quiet").exitCode()).isZero();
    Path fp32 = temp.resolve("fp32");
    Run exported = run("export", shards.toString(), fp32.toString(), "--dtype", "fp32", "--quiet");
    assertThat(exported.exitCode()).as(exported.err()).isZero();
    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.open(fp32)) {
      assertThat(written.names()).allSatisfy(name -> assertThat(written.dtype(name)).as(name).isEqualTo(DType.F32));
    }
    assertThat(config(fp32).get("dtype").asText()).isEqualTo("float32");
    assertSameConfigBesidesDtype(source, fp32);
    Path kept = temp.resolve("kept");
    assertThat(run("export", shards.toString(), kept.toString(), "--quiet").exitCode()).isZero();
    assertThat(Files.readString(kept.resolve("config.json"))).as("--dtype source (the default) copies the config verbatim")
        .isEqualTo(Files.readString(source.resolve("config.json")));
  }

  // ---- mixed dtypes in the source ------------------------------------------------------------------------

  /** A copy of fixture {@code name} in {@code temp}. */
  private Path copy(String name) throws IOException {
    return CliTest.copyFolder(fixture(name), temp.resolve(name));
  }

  /**
   * Rewrites the header of {@code file} with {@code tensor}'s dtype label replaced (for a label of another width,
   * its last dimension scaled so that the byte range still matches); the data stays as it is.
   */
  private static void relabel(Path file, String tensor, String dtype) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    ObjectNode header = (ObjectNode) Output.JSON.readTree(new String(bytes, 8, (int) headerLength,
        StandardCharsets.UTF_8));
    assertThat(header.has(tensor)).as(tensor).isTrue();
    ObjectNode entry = (ObjectNode) header.get(tensor);
    int oldWidth = DType.fromSafetensorsName(entry.get("dtype").asText()).orElseThrow().byteSize();
    int newWidth = DType.fromSafetensorsName(dtype).orElseThrow().byteSize();
    entry.put("dtype", dtype);
    ArrayNode shape = (ArrayNode) entry.get("shape");
    int last = shape.size() - 1;
    shape.set(last, shape.get(last).asLong() * oldWidth / newWidth);
    byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
    byte[] padded = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
    Arrays.fill(padded, json.length, padded.length, (byte) ' ');
    byte[] data = Arrays.copyOfRange(bytes, 8 + (int) headerLength, bytes.length);
    ByteBuffer out = ByteBuffer.allocate(8 + padded.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(padded.length).put(padded).put(data);
    Files.write(file, out.array());
  }

  @Test
  void oneTensorRelabelledF16AmongBf16IsAnErrorUnlessAllowed() throws IOException {
    Path source = copy("qwen35_dense_vl_bf16");
    Path weights = source.resolve("model.safetensors");
    relabel(weights, DOWN_PROJ, "F16");
    for (String[] command : new String[][] {
        {"import", source.toString(), temp.resolve("out").toString()},
        {"import", source.toString(), temp.resolve("out-td").toString(), "--format", "torch_dist"},
        {"inspect", source.toString()},
        {"roundtrip", source.toString()}}) {
      Run refused = run(command);
      assertThat(refused.exitCode()).as(String.join(" ", command) + ": " + refused.err()).isEqualTo(3);
      assertThat(refused.err()).contains(weights.toString(), "'" + DOWN_PROJ + "'", "is F16",
          "the checkpoint's weights are BF16", "--allow-mixed-dtypes");
    }
    assertThat(temp.resolve("out")).doesNotExist();
    assertThat(temp.resolve("out-td")).doesNotExist();

    Run allowed = run("import", source.toString(), temp.resolve("out").toString(), "--allow-mixed-dtypes", "--quiet");
    assertThat(allowed.exitCode()).as(allowed.err()).isZero();
    assertThat(allowed.err()).contains("warning:", DOWN_PROJ, "accepted");
    assertThat(run("inspect", source.toString(), "--allow-mixed-dtypes").exitCode()).isZero();
    assertThat(run("roundtrip", source.toString(), "--allow-mixed-dtypes", "--quiet").exitCode()).isZero();
  }

  @Test
  void theBridgesFloat32TensorsAreNotAMixButAnyOtherF32TensorIs() throws IOException {
    Path source = copy("qwen35_moe_vl_bf16");
    Run clean = run("inspect", source.toString());
    assertThat(clean.exitCode()).as(clean.err()).isZero();
    assertThat(clean.err()).doesNotContain("warning");
    // A BF16 tensor relabelled F32 with its last dimension halved keeps its byte range: an F32 tensor the bridge
    // does not keep in float32, among BF16 ones.
    Path weights = source.resolve("model.safetensors");
    String sharedDown = "model.language_model.layers.0.mlp.shared_expert.down_proj.weight";
    relabel(weights, sharedDown, "F32");
    Run refused = run("inspect", source.toString());
    assertThat(refused.exitCode()).as(refused.err()).isEqualTo(3);
    assertThat(refused.err()).contains(weights.toString(), "'" + sharedDown + "' is F32",
        "the checkpoint's weights are BF16");
  }

  @Test
  void aConfigDtypeThatDisagreesWithTheWeightsIsAWarningNamingBoth() throws IOException {
    Path source = copy("qwen35_dense_vl");
    ObjectNode config = (ObjectNode) config(source);
    config.put("dtype", "bfloat16");
    ((ObjectNode) config.get("text_config")).put("torch_dtype", "float16");
    Files.writeString(source.resolve("config.json"), config.toPrettyString());
    Run inspected = run("inspect", source.toString());
    assertThat(inspected.exitCode()).as(inspected.err()).isZero();
    assertThat(inspected.err()).contains("warning: " + source.resolve("config.json"), "dtype is \"bfloat16\"",
        "text_config.torch_dtype is \"float16\"", "the weights are F32");
    Run imported = run("import", source.toString(), temp.resolve("out").toString(), "--quiet");
    assertThat(imported.exitCode()).isZero();
    assertThat(imported.err()).contains("dtype is \"bfloat16\" but the weights are F32");
  }
}
