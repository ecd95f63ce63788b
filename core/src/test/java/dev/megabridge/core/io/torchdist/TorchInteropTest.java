package dev.megabridge.core.io.torchdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyFloat;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.io.pickle.PickleValue.PyStr;
import dev.megabridge.core.io.safetensors.SafetensorsFile;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.io.torchdist.TorchDistRoundTripTest.Written;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interop with real PyTorch through {@code scripts/torchdist/interop.sh} (a venv with the machine's local
 * torch wheel, created once in {@code core/target/torch-venv} outside the timed tests): torch's own DCP
 * readers load what Java wrote, and Java reads what {@code torch.distributed.checkpoint.save} wrote. The
 * only accepted reason to skip is a machine without {@code python3} (script exit status 3).
 */
class TorchInteropTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path script;

  @TempDir
  Path temp;

  @BeforeAll
  static void createVenv() throws Exception {
    script = InteropScript.setUp();
  }

  @Test
  void torchLoadsWhatJavaWrote() throws Exception {
    Written written = TorchDistRoundTripTest.sampleContents();
    Path save = temp.resolve("save");
    TorchDistWriter.writeRelease(save, written.contents(), new TorchDistWriter.Options(2), false, bytes -> {});
    Path work = Files.createDirectories(temp.resolve("work"));
    Tensor zip64Tensor = TorchDistRoundTripTest.randomTensor(DType.BF16, Shape.of(3, 7), 77);
    TorchArchiveWriter zip64 = new TorchArchiveWriter("zip64", 0);
    Files.write(work.resolve("zip64.pt"), zip64.toBytes(zip64.addTensor(zip64Tensor)));
    Map<String, Tensor> expected = new java.util.TreeMap<>(written.globals());
    expected.put("zip64", zip64Tensor);
    SafetensorsWriter.writeFile(work.resolve("expected.safetensors"), expected.entrySet().stream()
        .map(entry -> new SafetensorsWriter.Entry(entry.getKey(), entry.getValue())).toList(), bytes -> {});

    InteropScript.runOk(script, List.of("verify-java", save.resolve("release").toString(), work.toString()));

    JsonNode report = JSON.readTree(work.resolve("report.json").toFile());
    List<String> expectedKeys = new ArrayList<>(written.contents().tensors().stream()
        .map(TorchDistWriter.TensorEntry::key).toList());
    written.contents().bytesItems().forEach(entry -> expectedKeys.add(entry.key()));
    assertThat(report.get("metadata_keys")).extracting(JsonNode::asText)
        .containsExactlyInAnyOrderElementsOf(expectedKeys);
    for (Map.Entry<String, Tensor> global : written.globals().entrySet()) {
      JsonNode tensor = report.get("tensors").get(global.getKey());
      assertThat(tensor).as(global.getKey()).isNotNull();
      assertThat(tensor.get("dtype").asText()).isEqualTo("torch." + TorchDtypes.torchName(global.getValue().dtype()));
      assertThat(tensor.get("shape")).extracting(JsonNode::asLong)
          .containsExactlyElementsOf(global.getValue().shape().toList());
      assertThat(tensor.get("equal_dcp_to_torch_save").asBoolean()).as(global.getKey()).isTrue();
      assertThat(tensor.get("equal_dcp_load").asBoolean()).as(global.getKey()).isTrue();
    }
    assertThat(report.get("zip64_equal").asBoolean()).isTrue();
    JsonNode objects = report.get("objects");
    JsonNode extraState = objects.get("decoder.layers.0.mlp.linear_fc2._extra_state/shard_0_1");
    assertThat(extraState.get(0).get("tensor").asText()).isEqualTo("torch.uint8");
    assertThat(extraState.get(0).get("shape")).extracting(JsonNode::asLong).containsExactly(0L);
    assertThat(objects.get("custom/shard_0_1").get(0).get("answer").asInt()).isEqualTo(42);
    JsonNode common = report.get("common_weights_only");
    assertThat(common.get("checkpoint_version").asDouble()).isEqualTo(3.0);
    assertThat(common.get("iteration").asInt()).isZero();
    assertThat(common.get("args").get("Namespace").get("num_layers").asInt()).isEqualTo(1);
    assertThat(common.get("args").get("Namespace").get("tokenizer_type").asText()).isEqualTo("HuggingFaceTokenizer");
  }

  /** The v0.19 common state: torch loads the bytes item weights_only as a list of the dict; no common.pt. */
  @Test
  void torchLoadsTheShardedCommonState() throws Exception {
    Written written = TorchDistRoundTripTest.sampleContents();
    Path save = temp.resolve("save");
    TorchDistWriter.writeRelease(save, written.contents(),
        new TorchDistWriter.Options(2, MegatronCommonState.Storage.SHARDED), false, bytes -> {});
    Path work = Files.createDirectories(temp.resolve("work"));
    SafetensorsWriter.writeFile(work.resolve("expected.safetensors"), new java.util.TreeMap<>(written.globals())
        .entrySet().stream().map(entry -> new SafetensorsWriter.Entry(entry.getKey(), entry.getValue())).toList(),
        bytes -> {});

    InteropScript.runOk(script, List.of("verify-java", save.resolve("release").toString(), work.toString()));

    JsonNode report = JSON.readTree(work.resolve("report.json").toFile());
    assertThat(report.has("common_weights_only")).as("no common.pt").isFalse();
    assertThat(report.get("metadata_keys")).extracting(JsonNode::asText).contains(MegatronCommonState.SHARDED_KEY);
    assertThat(report.get("metadata_json").size()).isEqualTo(2);
    assertThat(report.get("metadata_json").get("sharded_backend").asText()).isEqualTo("torch_dist");
    for (Map.Entry<String, Tensor> global : written.globals().entrySet()) {
      assertThat(report.get("tensors").get(global.getKey()).get("equal_dcp_load").asBoolean()).as(global.getKey())
          .isTrue();
    }
    JsonNode stored = report.get("common_state_weights_only");
    assertThat(stored.isArray()).isTrue();
    assertThat(stored.size()).isEqualTo(1);
    JsonNode common = stored.get(0);
    assertThat(common.get("checkpoint_version").asDouble()).isEqualTo(3.0);
    assertThat(common.get("iteration").asInt()).isZero();
    assertThat(common.get("args").get("Namespace").get("num_layers").asInt()).isEqualTo(1);
    assertThat(common.get("args").get("Namespace").get("tokenizer_type").asText()).isEqualTo("HuggingFaceTokenizer");
  }

  @Test
  void javaReadsWhatTorchWrote() throws Exception {
    Path ckpt = temp.resolve("ckpt");
    Path work = Files.createDirectories(temp.resolve("work"));
    InteropScript.runOk(script, List.of("save-torch", ckpt.toString(), work.toString()));

    try (Arena arena = Arena.ofConfined(); TorchDistReader reader = TorchDistReader.open(ckpt)) {
      SafetensorsFile expected = SafetensorsFile.open(work.resolve("expected.safetensors"), arena);
      assertThat(reader.formatMarker()).isEmpty();
      assertThat(reader.tensorKeys()).containsExactlyInAnyOrderElementsOf(expected.entries().keySet());
      for (String key : expected.entries().keySet()) {
        Tensor want = expected.tensor(key);
        Tensor got = reader.tensor(key);
        assertThat(got.dtype()).as(key).isEqualTo(want.dtype());
        assertThat(got.shape()).as(key).isEqualTo(want.shape());
        assertThat(got.toByteArray()).as(key).isEqualTo(want.toByteArray());
      }
      assertThat(reader.dtype("model.layers.0.mask")).isEqualTo(DType.BOOL);
      assertThat(reader.shape("model.scalar")).isEqualTo(Shape.of());

      JsonNode expectedJson = JSON.readTree(work.resolve("expected.json").toFile());
      byte[] raw = HexFormat.of().parseHex(expectedJson.get("raw_blob").asText());
      assertThat(reader.objectKeys()).contains("raw_blob", "trainer.step", "trainer.names", "trainer.lr");
      assertThat(rawOrLoaded(reader, "raw_blob")).isEqualTo(raw);
      assertThat(reader.object("trainer.step")).isEqualTo(PyInt.of(5));
      assertThat(reader.object("trainer.lr")).isEqualTo(new PyFloat(0.25));
      assertThat(reader.object("trainer.names")).isEqualTo(new PyList(List.of(new PyStr("a"), new PyStr("b"))));
      assertThat(reader.commonState()).isEmpty();
    }

    // torch.save of views: storage offsets and strides as torch writes them.
    try (Arena arena = Arena.ofConfined()) {
      SafetensorsFile expected = SafetensorsFile.open(work.resolve("views.safetensors"), arena);
      var channel = java.nio.channels.FileChannel.open(work.resolve("views.pt"));
      TorchArchive archive = TorchArchive.open(channel.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0,
          channel.size(), arena), "views.pt");
      channel.close();
      assertThat(archive.directory()).isEqualTo("views");
      PyDict views = (PyDict) archive.loadObject();
      for (String key : expected.entries().keySet()) {
        Tensor got = archive.tensor(views.get(key).orElseThrow());
        assertThat(got.shape()).as(key).isEqualTo(expected.tensor(key).shape());
        assertThat(got.toByteArray()).as(key).isEqualTo(expected.tensor(key).toByteArray());
      }
    }
  }

  /**
   * The payload of a BytesIO item: older DCP wrote its bytes verbatim, torch 2.13 torch.saves the BytesIO
   * object ({@code _io.BytesIO} NEWOBJ with state {@code (bytes, position, dict)}).
   */
  private static byte[] rawOrLoaded(TorchDistReader reader, String key) {
    byte[] stored = reader.bytes(key).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    if (stored.length < 2 || stored[0] != 'P' || stored[1] != 'K') {
      return stored;
    }
    PickleValue loaded = reader.object(key);
    if (loaded instanceof PickleValue.PyObject object && object.isA("_io", "BytesIO")
        && object.state().orElseThrow() instanceof PickleValue.PyTuple state
        && state.get(0) instanceof PickleValue.PyBytes bytes) {
      return bytes.value();
    }
    return fail("BytesIO item '" + key + "' holds " + loaded);
  }
}
