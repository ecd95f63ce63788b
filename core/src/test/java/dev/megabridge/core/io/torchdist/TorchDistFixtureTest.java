package dev.megabridge.core.io.torchdist;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyFloat;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.io.pickle.PickleValue.PyNone;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reads the three fixture checkpoints of {@code fixtures/torch-dist-tiny} (values from its README.txt). */
class TorchDistFixtureTest {

  static Path fixture(String name) {
    return Path.of(System.getProperty("megabridge.fixtures"), "torch-dist-tiny", name);
  }

  private static final String EMBEDDING = "embedding.word_embeddings.weight";
  private static final String FC2 = "decoder.layers.0.mlp.linear_fc2.weight";
  private static final String NORM = "vision.layers.norm.weight";
  private static final String EXTRA = "decoder.layers.0.mlp.linear_fc2._extra_state/shard_0_1";

  @ParameterizedTest
  @ValueSource(strings = {"handwritten_protocol2", "mcore_dev_2026-02-14_legacy_commonpt",
      "mcore_main_2026-08-22_common_state_in_dcp"})
  void readsKeysShapesDtypesAndValues(String name) {
    try (TorchDistReader reader = TorchDistReader.open(fixture(name))) {
      assertThat(reader.tensorKeys()).containsExactlyInAnyOrder(EMBEDDING, FC2, NORM);
      assertThat(reader.objectKeys()).containsExactly(EXTRA);
      assertThat(reader.formatMarker()).containsEntry("sharded_backend", "torch_dist");

      assertThat(reader.dtype(EMBEDDING)).isEqualTo(DType.BF16);
      assertThat(reader.shape(EMBEDDING)).isEqualTo(Shape.of(4, 3));
      assertThat(reader.tensor(EMBEDDING).toFloatArray())
          .containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);

      assertThat(reader.dtype(FC2)).isEqualTo(DType.F32);
      assertThat(reader.shape(FC2)).isEqualTo(Shape.of(2, 3));
      assertThat(reader.tensor(FC2).toFloatArray()).containsExactly(0, 1, 2, 3, 4, 5);

      // Stacked key: two chunks [1,2] at rows 0 and 1.
      assertThat(reader.tensorMetadata(NORM).chunks()).hasSize(2);
      Tensor norm = reader.tensor(NORM);
      assertThat(norm.dtype()).isEqualTo(DType.BF16);
      assertThat(norm.shape()).isEqualTo(Shape.of(2, 2));
      assertThat(norm.toFloatArray()).containsExactly(1, 1, 2, 2);

      PickleValue extra = reader.object(EXTRA);
      assertThat(extra).isInstanceOf(PyList.class);
      PickleValue element = ((PyList) extra).get(0);
      if (name.startsWith("handwritten")) {
        TorchArchive archive = reader.objectArchive(EXTRA);
        Tensor empty = archive.tensor(element);
        assertThat(empty.dtype()).isEqualTo(DType.U8);
        assertThat(empty.shape()).isEqualTo(Shape.of(0));
      } else {
        assertThat(element).isEqualTo(PyNone.INSTANCE);
      }

      PyDict common = (PyDict) reader.commonState().orElseThrow();
      assertThat(common.get("checkpoint_version")).contains(new PyFloat(3.0));
      assertThat(common.get("iteration")).contains(PyInt.of(7));
      if (name.startsWith("handwritten")) {
        assertThat(common.get("args")).isEmpty();
      } else {
        assertThat(common.get("args")).contains(PyNone.INSTANCE);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mcore_dev_2026-02-14_legacy_commonpt", "mcore_main_2026-08-22_common_state_in_dcp"})
  void megatronMetadataListsEveryChunkWithItsLocation(String name) {
    try (TorchDistReader reader = TorchDistReader.open(fixture(name))) {
      DcpMetadata metadata = reader.metadata();
      for (Map.Entry<String, DcpMetadata.StorageMetadata> entry : metadata.stateDictMetadata().entrySet()) {
        switch (entry.getValue()) {
          case DcpMetadata.TensorStorage tensor -> tensor.chunks().forEach(chunk -> assertThat(
              metadata.storageData()).containsKey(DcpMetadata.Index.ofChunk(entry.getKey(), chunk.offsets())));
          case DcpMetadata.BytesStorage ignored ->
              assertThat(metadata.storageData()).containsKey(DcpMetadata.Index.ofBytes(entry.getKey()));
        }
      }
      assertThat(metadata.storageData().values()).allSatisfy(location ->
          assertThat(location.relativePath()).matches("__0_[01]\\.distcp"));
      if (name.contains("common_state")) {
        assertThat(metadata.stateDictMetadata()).containsKey("common_state/shard_0_1");
        assertThat(reader.objectKeys()).doesNotContain("common_state/shard_0_1");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mcore_dev_2026-02-14_legacy_commonpt", "handwritten_protocol2"})
  void commonPtIsATorchArchiveNamedAfterItsStem(String name) {
    try (TorchDistReader reader = TorchDistReader.open(fixture(name))) {
      assertThat(reader.commonState()).isPresent();
    }
    Path common = fixture(name).resolve("common.pt");
    try (var arena = java.lang.foreign.Arena.ofConfined();
        var channel = java.nio.channels.FileChannel.open(common)) {
      var archive = TorchArchive.open(channel.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0,
          channel.size(), arena), common.toString());
      assertThat(archive.directory()).isEqualTo("common");
      assertThat(archive.recordNames()).contains("data.pkl", "version");
      assertThat(archive.loadObject()).isInstanceOf(PyDict.class);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
