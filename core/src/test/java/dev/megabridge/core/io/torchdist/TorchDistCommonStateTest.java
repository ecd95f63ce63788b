package dev.megabridge.core.io.torchdist;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.io.torchdist.TorchDistWriter.Contents;
import dev.megabridge.core.io.torchdist.TorchDistWriter.Options;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The common state written as Megatron ≥ v0.19 saves it ({@link MegatronCommonState.Storage#SHARDED}) reads back and
 * has the form of the real v0.19 fixture {@code mcore_main_2026-08-22_common_state_in_dcp}: no {@code common.pt}, the
 * 2-field {@code metadata.json}, the last key of {@code .metadata} a bytes item {@code common_state/shard_0_1} whose
 * archive ({@code archive/}) holds a list of one dict, placed after the other bytes items and before the tensors of
 * its data file.
 */
class TorchDistCommonStateTest {

  private static final String KEY = MegatronCommonState.SHARDED_KEY;

  @TempDir
  Path temp;

  private static Path megatronV019() {
    return TorchDistFixtureTest.fixture("mcore_main_2026-08-22_common_state_in_dcp");
  }

  @Test
  void shardedCommonStateReadsBackInMegatronV019Form() throws IOException {
    Contents contents = TorchDistRoundTripTest.sampleContents().contents();
    TorchDistWriter.writeRelease(temp.resolve("save"), contents, new Options(2, MegatronCommonState.Storage.SHARDED),
        false, bytes -> {});
    Path release = temp.resolve("save/release");
    try (Stream<Path> files = Files.list(release)) {
      assertThat(files.map(path -> path.getFileName().toString()))
          .containsExactlyInAnyOrder(".metadata", "__0_0.distcp", "__0_1.distcp", "metadata.json");
    }
    assertThat(Files.readString(release.resolve("metadata.json")))
        .isEqualTo(Files.readString(megatronV019().resolve("metadata.json")));

    try (TorchDistReader ours = TorchDistReader.open(temp.resolve("save"));
        TorchDistReader megatron = TorchDistReader.open(megatronV019())) {
      assertThat(ours.commonState()).contains(contents.commonState());
      for (TorchDistReader reader : List.of(ours, megatron)) {
        String where = reader.directory().toString();
        List<String> keys = new ArrayList<>(reader.metadata().stateDictMetadata().keySet());
        assertThat(keys.getLast()).as(where).isEqualTo(KEY);
        assertThat(reader.metadata().stateDictMetadata().get(KEY)).as(where)
            .isInstanceOf(DcpMetadata.BytesStorage.class);
        assertThat(reader.objectKeys()).as(where).doesNotContain(KEY);
        assertThat(reader.objectArchive(KEY).directory()).as(where).isEqualTo("archive");
        PickleValue stored = reader.object(KEY);
        assertThat(stored).as(where).isInstanceOf(PyList.class);
        assertThat(((PyList) stored).items()).as(where).hasSize(1);
        assertThat(((PyList) stored).get(0)).as(where).isInstanceOf(PyDict.class).isEqualTo(
            reader.commonState().orElseThrow());
        assertPlacedAfterBytesItemsBeforeTensors(reader);
      }
    }
  }

  @Test
  void legacyCommonPtStaysTheDefault() throws IOException {
    Contents contents = TorchDistRoundTripTest.sampleContents().contents();
    TorchDistWriter.writeRelease(temp.resolve("save"), contents, new Options(1), false, bytes -> {});
    Path release = temp.resolve("save/release");
    assertThat(release.resolve("common.pt")).exists();
    try (TorchDistReader reader = TorchDistReader.open(temp.resolve("save"))) {
      assertThat(reader.metadata().stateDictMetadata()).doesNotContainKey(KEY);
      assertThat(reader.commonState()).contains(contents.commonState());
    }
  }

  /** In its data file the common state follows every other bytes item and precedes every tensor chunk. */
  private static void assertPlacedAfterBytesItemsBeforeTensors(TorchDistReader reader) {
    Map<DcpMetadata.Index, DcpMetadata.Location> storage = reader.metadata().storageData();
    DcpMetadata.Location common = storage.get(DcpMetadata.Index.ofBytes(KEY));
    storage.forEach((index, location) -> {
      if (!location.relativePath().equals(common.relativePath()) || index.equals(DcpMetadata.Index.ofBytes(KEY))) {
        return;
      }
      boolean bytesItem = reader.metadata().stateDictMetadata().get(index.fqn()) instanceof DcpMetadata.BytesStorage;
      if (bytesItem) {
        assertThat(location.offset()).as(index.fqn()).isLessThan(common.offset());
      } else {
        assertThat(location.offset()).as(index.fqn()).isGreaterThan(common.offset());
      }
    });
  }
}
