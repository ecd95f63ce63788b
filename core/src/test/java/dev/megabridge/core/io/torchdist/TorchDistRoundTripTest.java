package dev.megabridge.core.io.torchdist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.io.pickle.PickleValue.PyObject;
import dev.megabridge.core.io.pickle.PickleValue.PyStr;
import dev.megabridge.core.io.torchdist.TorchDistWriter.BytesEntry;
import dev.megabridge.core.io.torchdist.TorchDistWriter.ChunkData;
import dev.megabridge.core.io.torchdist.TorchDistWriter.Contents;
import dev.megabridge.core.io.torchdist.TorchDistWriter.Options;
import dev.megabridge.core.io.torchdist.TorchDistWriter.TensorEntry;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchDistRoundTripTest {

  @TempDir
  Path temp;

  /** Random bit patterns (NaNs and all) so that the comparison is bit-exact, not numeric. */
  static StridedTensor randomTensor(DType dtype, Shape shape, long seed) {
    byte[] bytes = new byte[Math.toIntExact(shape.numel() * dtype.byteSize())];
    new Random(seed).nextBytes(bytes);
    return Tensor.of(dtype, shape, MemorySegment.ofArray(bytes));
  }

  /** Chunks of {@code global} on a grid: row cuts × column cuts, each chunk a (non-contiguous) view. */
  static List<ChunkData> grid(Tensor global, long[] rowCuts, long[] columnCuts) {
    List<ChunkData> chunks = new ArrayList<>();
    for (int row = 0; row + 1 < rowCuts.length; row++) {
      for (int column = 0; column + 1 < columnCuts.length; column++) {
        Tensor view = global.slice(0, rowCuts[row], rowCuts[row + 1] - rowCuts[row])
            .slice(1, columnCuts[column], columnCuts[column + 1] - columnCuts[column]);
        chunks.add(new ChunkData(List.of(rowCuts[row], columnCuts[column]), view));
      }
    }
    return chunks;
  }

  record Written(Contents contents, Map<String, Tensor> globals) {}

  static Written sampleContents() {
    StridedTensor f32 = randomTensor(DType.F32, Shape.of(7, 5), 1);
    StridedTensor bf16 = randomTensor(DType.BF16, Shape.of(6, 4), 2);
    StridedTensor stacked = randomTensor(DType.BF16, Shape.of(3, 4, 2), 3);
    StridedTensor scalarish = randomTensor(DType.F16, Shape.of(5), 4);
    StridedTensor wide = randomTensor(DType.I64, Shape.of(2, 3), 5);
    Tensor converted = Tensor.ofFloats(Shape.of(2, 2), 1f, -2.5f, 3.25f, 1e-3f).convert(DType.BF16);
    List<ChunkData> stackedChunks = new ArrayList<>();
    for (int layer = 0; layer < 3; layer++) {
      stackedChunks.add(new ChunkData(List.of((long) layer, 0L, 0L), stacked.select(layer).unsqueeze0()));
    }
    List<TensorEntry> tensors = List.of(
        new TensorEntry("decoder.layers.0.mlp.linear_fc1.weight", DType.F32, f32.shape(),
            grid(f32, new long[] {0, 3, 7}, new long[] {0, 2, 5})),
        // swiglu-style halves stored in reverse order
        new TensorEntry("decoder.layers.0.mlp.linear_fc2.weight", DType.BF16, bf16.shape(), List.of(
            new ChunkData(List.of(3L, 0L), bf16.slice(0, 3, 3)),
            new ChunkData(List.of(0L, 0L), bf16.slice(0, 0, 3)))),
        new TensorEntry("vision_model.decoder.layers.mlp.linear_fc2.bias", DType.BF16, stacked.shape(), stackedChunks),
        TensorEntry.whole("decoder.final_layernorm.weight", scalarish),
        TensorEntry.whole("some.int64.buffer", wide),
        TensorEntry.whole("converted.weight", converted));
    List<BytesEntry> objects = List.of(
        BytesEntry.emptyExtraState("decoder.layers.0.mlp.linear_fc2._extra_state/shard_0_1"),
        BytesEntry.shardedObject("custom/shard_0_1", PyDict.ofStrings(Map.of("answer", PyInt.of(42)))));
    PyDict common = MegatronCommonState.withArgs(0, Map.of("num_layers", PyInt.of(1),
        "tokenizer_type", new PyStr("HuggingFaceTokenizer")));
    return new Written(new Contents(tensors, objects, common), Map.of(
        "decoder.layers.0.mlp.linear_fc1.weight", f32,
        "decoder.layers.0.mlp.linear_fc2.weight", bf16,
        "vision_model.decoder.layers.mlp.linear_fc2.bias", stacked,
        "decoder.final_layernorm.weight", scalarish,
        "some.int64.buffer", wide,
        "converted.weight", converted.materialize()));
  }

  @Test
  void writesAndReadsBackBitExact() {
    Written written = sampleContents();
    long[] progress = {0};
    var summary = TorchDistWriter.writeRelease(temp.resolve("save"), written.contents(), new Options(2), false,
        bytes -> {
          synchronized (progress) {
            progress[0] += bytes;
          }
        });
    assertThat(summary.checkpointDirectory()).isEqualTo(temp.resolve("save/release").toAbsolutePath());
    assertThat(summary.dataFiles()).containsExactly("__0_0.distcp", "__0_1.distcp");
    long tensorBytes = written.globals().values().stream().mapToLong(Tensor::byteSize).sum();
    assertThat(progress[0]).isEqualTo(tensorBytes);

    try (TorchDistReader reader = TorchDistReader.open(temp.resolve("save"))) {
      assertThat(reader.directory()).isEqualTo(summary.checkpointDirectory());
      assertThat(reader.tensorKeys()).containsExactlyElementsOf(
          written.contents().tensors().stream().map(TensorEntry::key).toList());
      for (Map.Entry<String, Tensor> global : written.globals().entrySet()) {
        Tensor read = reader.tensor(global.getKey());
        assertThat(read.dtype()).as(global.getKey()).isEqualTo(global.getValue().dtype());
        assertThat(read.shape()).as(global.getKey()).isEqualTo(global.getValue().shape());
        assertThat(read.toByteArray()).as(global.getKey()).isEqualTo(global.getValue().toByteArray());
      }
      assertThat(reader.tensorMetadata("decoder.layers.0.mlp.linear_fc1.weight").chunks()).hasSize(4);
      assertThat(reader.metadata().storageData().values())
          .extracting(DcpMetadata.Location::relativePath).contains("__0_0.distcp", "__0_1.distcp");

      assertThat(reader.objectKeys()).containsExactly(
          "decoder.layers.0.mlp.linear_fc2._extra_state/shard_0_1", "custom/shard_0_1");
      PyList extra = (PyList) reader.object("decoder.layers.0.mlp.linear_fc2._extra_state/shard_0_1");
      Tensor empty = reader.objectArchive("decoder.layers.0.mlp.linear_fc2._extra_state/shard_0_1")
          .tensor(extra.get(0));
      assertThat(empty.dtype()).isEqualTo(DType.U8);
      assertThat(empty.shape()).isEqualTo(Shape.of(0));
      assertThat(reader.object("custom/shard_0_1"))
          .isEqualTo(new PyList(List.of(PyDict.ofStrings(Map.of("answer", PyInt.of(42))))));

      PyDict common = (PyDict) reader.commonState().orElseThrow();
      assertThat(common).isEqualTo(written.contents().commonState());
      PyObject args = (PyObject) common.get("args").orElseThrow();
      assertThat(args.isA("argparse", "Namespace")).isTrue();
      assertThat(args.attribute("num_layers")).contains(PyInt.of(1));
    }
  }

  @Test
  void releaseLayoutMatchesMegatron() throws IOException {
    TorchDistWriter.writeRelease(temp.resolve("save"), sampleContents().contents(), Options.defaults(), false,
        bytes -> {});
    Path save = temp.resolve("save");
    assertThat(Files.readString(save.resolve("latest_checkpointed_iteration.txt"))).isEqualTo("release");
    try (Stream<Path> files = Files.list(save.resolve("release"))) {
      assertThat(files.map(path -> path.getFileName().toString()))
          .containsExactlyInAnyOrder(".metadata", "__0_0.distcp", "common.pt", "metadata.json");
    }
    assertThat(Files.readString(save.resolve("release/metadata.json"))).isEqualTo(
        "{\"sharded_backend\": \"torch_dist\", \"sharded_backend_version\": 1, \"common_backend\": \"torch\", "
            + "\"common_backend_version\": 1}");
    try (Stream<Path> siblings = Files.list(temp)) {
      assertThat(siblings.map(path -> path.getFileName().toString())).containsExactly("save");
    }
    byte[] metadata = Files.readAllBytes(save.resolve("release/.metadata"));
    assertThat(metadata[0] & 0xff).isEqualTo(0x80);
    assertThat(metadata[1]).isEqualTo((byte) 2);
    assertThatThrownBy(() -> TorchDistWriter.writeRelease(save, sampleContents().contents(), Options.defaults(),
        false, bytes -> {})).hasMessageContaining("already exists");
  }

  @Test
  void archiveRecordsAreAlignedAndCarryRealCrcs() throws IOException {
    TorchDistWriter.writeCheckpointDirectory(temp.resolve("ckpt"), sampleContents().contents(), Options.defaults(),
        false, bytes -> {});
    try (TorchDistReader reader = TorchDistReader.open(temp.resolve("ckpt"));
        Arena arena = Arena.ofConfined();
        FileChannel channel = FileChannel.open(temp.resolve("ckpt/__0_0.distcp"))) {
      MemorySegment file = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
      for (DcpMetadata.Location location : reader.metadata().storageData().values()) {
        MemorySegment slice = file.asSlice(location.offset(), location.length());
        TorchArchive archive = TorchArchive.open(slice, "item");
        assertThat(archive.directory()).isEqualTo("archive");
        assertThat(archive.recordNames()).startsWith("data.pkl", ".format_version", ".storage_alignment",
            "byteorder");
        assertThat(archive.recordNames()).endsWith("version", ".data/serialization_id");
        for (String name : archive.recordNames()) {
          MemorySegment record = archive.record(name).orElseThrow();
          long start = record.address() - slice.address();
          assertThat(start % 64).as(name).isZero();
          // the data descriptor right after the record holds its CRC-32 and sizes
          var crc = new java.util.zip.CRC32();
          crc.update(record.asByteBuffer());
          var little = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
          assertThat(slice.get(little, start + record.byteSize())).isEqualTo(0x08074b50);
          assertThat(Integer.toUnsignedLong(slice.get(little, start + record.byteSize() + 4)))
              .as(name).isEqualTo(crc.getValue());
        }
        assertThat(archive.record("byteorder").orElseThrow().toArray(ValueLayout.JAVA_BYTE))
            .isEqualTo("little".getBytes());
      }
    }
  }

  @Test
  void sameContentAsTheHandwrittenFixtureGivesTheSameMetadata() {
    Path fixture = TorchDistFixtureTest.fixture("handwritten_protocol2");
    short[] embedding = new short[12];
    for (int index = 0; index < 12; index++) {
      embedding[index] = DType.floatToBf16(index);
    }
    Tensor emb = Tensor.of(DType.BF16, Shape.of(4, 3), MemorySegment.ofArray(embedding));
    Tensor fc2 = Tensor.ofFloats(Shape.of(2, 3), 0, 1, 2, 3, 4, 5);
    Tensor norm = Tensor.ofFloats(Shape.of(2, 2), 1, 1, 2, 2).convert(DType.BF16).materialize();
    Contents contents = new Contents(List.of(
        TensorEntry.whole("embedding.word_embeddings.weight", emb),
        TensorEntry.whole("decoder.layers.0.mlp.linear_fc2.weight", fc2),
        new TensorEntry("vision.layers.norm.weight", DType.BF16, Shape.of(2, 2), List.of(
            new ChunkData(List.of(0L, 0L), norm.slice(0, 0, 1)), new ChunkData(List.of(1L, 0L), norm.slice(0, 1, 1))))),
        List.of(BytesEntry.emptyExtraState("decoder.layers.0.mlp.linear_fc2._extra_state/shard_0_1")),
        MegatronCommonState.minimal(7));
    TorchDistWriter.writeCheckpointDirectory(temp.resolve("ours"), contents, Options.defaults(), false, bytes -> {});
    try (TorchDistReader ours = TorchDistReader.open(temp.resolve("ours"));
        TorchDistReader theirs = TorchDistReader.open(fixture)) {
      assertThat(ours.metadata().stateDictMetadata()).isEqualTo(theirs.metadata().stateDictMetadata());
      assertThat(ours.metadata().storageData().keySet()).isEqualTo(theirs.metadata().storageData().keySet());
      for (String key : theirs.tensorKeys()) {
        assertThat(ours.tensor(key).toByteArray()).as(key).isEqualTo(theirs.tensor(key).toByteArray());
      }
      assertThat(ours.commonState()).isEqualTo(theirs.commonState());
    }
  }

  @Test
  void rejectsInconsistentEntries() {
    StridedTensor data = randomTensor(DType.F32, Shape.of(4, 4), 9);
    assertThatThrownBy(() -> new TensorEntry("k", DType.F32, Shape.of(4, 4),
        List.of(new ChunkData(List.of(0L, 0L), data.slice(0, 0, 2)))))
        .isInstanceOf(InternalException.class).hasMessageContaining("cover 8 elements of 16");
    assertThatThrownBy(() -> new TensorEntry("k", DType.BF16, Shape.of(4, 4),
        List.of(new ChunkData(List.of(0L, 0L), data))))
        .isInstanceOf(InternalException.class).hasMessageContaining("F32");
    assertThatThrownBy(() -> new TensorEntry("k", DType.F32, Shape.of(4, 4),
        List.of(new ChunkData(List.of(2L, 0L), data)))).hasMessageContaining("outside");
  }

  @Test
  void readerRejectsGapsAndOverlaps() {
    Tensor a = randomTensor(DType.F32, Shape.of(2, 2), 1);
    Tensor b = randomTensor(DType.F32, Shape.of(2, 2), 2);
    var overlap = List.of(new TorchDistReader.PlacedChunk(new long[] {0, 0}, a),
        new TorchDistReader.PlacedChunk(new long[] {1, 0}, b));
    assertThatThrownBy(() -> TorchDistReader.ChunkAssembly.assemble("k", DType.F32, Shape.of(3, 2), overlap))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("overlap");
    var gap = List.of(new TorchDistReader.PlacedChunk(new long[] {0, 0}, a),
        new TorchDistReader.PlacedChunk(new long[] {3, 0}, b));
    assertThatThrownBy(() -> TorchDistReader.ChunkAssembly.assemble("k", DType.F32, Shape.of(5, 2), gap))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("k: no chunk covers");
  }

  @Test
  void corruptDataFilesFailWithTheFileAndKey() throws IOException {
    Written written = sampleContents();
    TorchDistWriter.writeCheckpointDirectory(temp.resolve("ckpt"), written.contents(), Options.defaults(), false,
        bytes -> {});
    Path data = temp.resolve("ckpt/__0_0.distcp");
    byte[] bytes = Files.readAllBytes(data);
    Files.write(data, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    try (TorchDistReader reader = TorchDistReader.open(temp.resolve("ckpt"))) {
      String last = written.contents().tensors().getLast().key();
      assertThatThrownBy(() -> reader.tensor(last)).isInstanceOf(CheckpointFormatException.class)
          .hasMessageContaining("__0_0.distcp").hasMessageContaining(last);
    }
    Files.write(temp.resolve("ckpt/.metadata"), new byte[] {(byte) 0x80, 2, 'N'});
    assertThatThrownBy(() -> TorchDistReader.open(temp.resolve("ckpt"))).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining(".metadata");
  }

  @Test
  void everyTruncatedArchiveFailsCleanly() {
    TorchArchiveWriter writer = new TorchArchiveWriter("archive");
    PickleValue reference = writer.addTensor(randomTensor(DType.BF16, Shape.of(3, 5), 11));
    byte[] archive = writer.toBytes(reference);
    assertThat(TorchArchive.open(MemorySegment.ofArray(archive), "whole").tensor(reference).shape())
        .isEqualTo(Shape.of(3, 5));
    for (int length = 0; length < archive.length; length++) {
      MemorySegment truncated = MemorySegment.ofArray(java.util.Arrays.copyOf(archive, length));
      assertThatThrownBy(() -> {
        TorchArchive opened = TorchArchive.open(truncated, "cut.pt");
        opened.tensor(opened.loadObject());
      }).as("length %d", length).isInstanceOf(CheckpointFormatException.class).hasMessageStartingWith("cut.pt");
    }
  }

  @Test
  void zip64EntryFieldsReadBack() {
    StridedTensor tensor = randomTensor(DType.F32, Shape.of(4, 9), 21);
    TorchArchiveWriter writer = new TorchArchiveWriter("archive", 0);
    byte[] bytes = writer.toBytes(writer.addTensor(tensor));
    TorchArchive archive = TorchArchive.open(MemorySegment.ofArray(bytes), "zip64.pt");
    assertThat(archive.tensor(archive.loadObject()).toByteArray()).isEqualTo(tensor.toByteArray());
    // local header of the first record: sizes 0xFFFFFFFF, then the zip64 extra (id 1) before the FB padding
    MemorySegment segment = MemorySegment.ofArray(bytes);
    var u32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    var u16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    assertThat(segment.get(u32, 18)).isEqualTo(-1);
    int nameLength = segment.get(u16, 26);
    assertThat(segment.get(u16, 30 + nameLength)).isEqualTo((short) 1);
  }

  @Test
  void tensorViewsHonourStorageOffsetAndStrides() {
    // A pickled view: offset 2, size (2, 2), stride (1, 3) over a 9-element float storage (a transposed slice).
    TorchArchiveWriter writer = new TorchArchiveWriter("archive");
    Tensor storage = Tensor.ofFloats(Shape.of(9), 0, 1, 2, 3, 4, 5, 6, 7, 8);
    PyObject contiguous = writer.addTensor(storage);
    PickleValue view = PyObject.reduce(contiguous.callable(), contiguous.args().get(0), PyInt.of(2),
        TorchArchiveWriter.intTuple(new long[] {2, 2}), TorchArchiveWriter.intTuple(new long[] {1, 3}),
        contiguous.args().get(4), contiguous.args().get(5));
    byte[] bytes = writer.toBytes(view);
    TorchArchive archive = TorchArchive.open(MemorySegment.ofArray(bytes), "view.pt");
    assertThat(archive.tensor(archive.loadObject()).toFloatArray()).containsExactly(2, 5, 3, 6);

    PickleValue beyond = PyObject.reduce(contiguous.callable(), contiguous.args().get(0), PyInt.of(5),
        TorchArchiveWriter.intTuple(new long[] {2, 2}), TorchArchiveWriter.intTuple(new long[] {3, 1}),
        contiguous.args().get(4), contiguous.args().get(5));
    TorchArchive bad = TorchArchive.open(MemorySegment.ofArray(writer.toBytes(beyond)), "beyond.pt");
    assertThatThrownBy(() -> bad.tensor(bad.loadObject())).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("beyond its storage");
  }
}
