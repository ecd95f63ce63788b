package dev.megabridge.core.io.torchdist;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.io.torchdist.TorchDistWriter.ChunkData;
import dev.megabridge.core.io.torchdist.TorchDistWriter.Contents;
import dev.megabridge.core.io.torchdist.TorchDistWriter.Options;
import dev.megabridge.core.io.torchdist.TorchDistWriter.TensorEntry;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Large runs of a memory-mapped source go through positional channel reads (one pass: checksum and write); the
 * archive must hold exactly the source bytes and a CRC-32 that matches them.
 */
class TorchDistMappedSourceTest {

  @TempDir
  Path temp;

  @Test
  void largeMappedChunksAreCopiedWithTheirChecksum() throws IOException {
    byte[] bytes = new byte[6 << 20];
    new SplittableRandom(9).nextBytes(bytes);
    Path source = temp.resolve("source.safetensors");
    SafetensorsWriter.writeFile(source, List.of(new SafetensorsWriter.Entry("w",
        Tensor.of(DType.BF16, Shape.of(3072, 1024), MemorySegment.ofArray(bytes)))), written -> { });
    try (SafetensorsCheckpoint mapped = SafetensorsCheckpoint.openFiles(temp, List.of(source))) {
      Tensor weight = mapped.tensor("w");
      // Two row chunks (contiguous 3 MiB runs, read through the channel) and a column-strided key (small runs).
      TensorEntry rows = new TensorEntry("rows", DType.BF16, weight.shape(), List.of(
          new ChunkData(List.of(0L, 0L), weight.slice(0, 0, 1536)),
          new ChunkData(List.of(1536L, 0L), weight.slice(0, 1536, 1536))));
      TensorEntry columns = TensorEntry.whole("columns", weight.slice(1, 100, 200));
      TorchDistWriter.writeCheckpointDirectory(temp.resolve("ckpt"), new Contents(List.of(rows, columns), List.of(),
          MegatronCommonState.minimal(0)), Options.defaults(), false, progress -> { });
      try (TorchDistReader reader = TorchDistReader.open(temp.resolve("ckpt"))) {
        assertThat(reader.tensor("rows").toByteArray()).isEqualTo(weight.toByteArray());
        assertThat(reader.tensor("columns").toByteArray()).isEqualTo(weight.slice(1, 100, 200).toByteArray());
        assertCrcsMatch(reader, temp.resolve("ckpt/__0_0.distcp"));
      }
    }
  }

  /**
   * A tensor read from a torch_dist checkpoint hands out, with every run, the data file it lies in and the offset
   * there at which the file holds exactly the run's bytes: what lets a writer read it with pread.
   */
  @Test
  void runsReadFromADataFileNameWhereTheyLieInIt() throws IOException {
    byte[] bytes = new byte[96 * 64 * 2];
    new SplittableRandom(4).nextBytes(bytes);
    Tensor weight = Tensor.of(DType.BF16, Shape.of(96, 64), MemorySegment.ofArray(bytes));
    TensorEntry rows = new TensorEntry("rows", DType.BF16, weight.shape(), List.of(
        new ChunkData(List.of(0L, 0L), weight.slice(0, 0, 32)),
        new ChunkData(List.of(32L, 0L), weight.slice(0, 32, 64))));
    TorchDistWriter.writeCheckpointDirectory(temp.resolve("ckpt"), new Contents(List.of(rows), List.of(),
        MegatronCommonState.minimal(0)), Options.defaults(), false, progress -> { });
    Path dataFile = temp.resolve("ckpt/__0_0.distcp").toAbsolutePath();
    byte[] file = Files.readAllBytes(dataFile);
    try (TorchDistReader reader = TorchDistReader.open(temp.resolve("ckpt"))) {
      Tensor read = reader.tensor("rows");
      List<Tensor> views = List.of(read, read.slice(0, 20, 40), read.slice(1, 8, 16));
      for (Tensor view : views) {
        long[] streamed = {0};
        view.forEachRun((segment, offset, length, origin) -> {
          assertThat(origin).as("origin of a run of " + view).isNotNull();
          assertThat(origin.file()).isEqualTo(dataFile);
          int at = Math.toIntExact(origin.fileOffset() + offset);
          assertThat(Arrays.copyOfRange(file, at, Math.toIntExact(at + length)))
              .isEqualTo(segment.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
          streamed[0] += length;
        });
        assertThat(streamed[0]).isEqualTo(view.byteSize());
      }
      assertThat(read.toByteArray()).isEqualTo(bytes);
    }
  }

  private static void assertCrcsMatch(TorchDistReader reader, Path dataFile) throws IOException {
    var little = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    try (Arena arena = Arena.ofConfined(); FileChannel channel = FileChannel.open(dataFile)) {
      MemorySegment file = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
      for (DcpMetadata.Location location : reader.metadata().storageData().values()) {
        MemorySegment slice = file.asSlice(location.offset(), location.length());
        TorchArchive archive = TorchArchive.open(slice, "item");
        for (String name : archive.recordNames()) {
          MemorySegment record = archive.record(name).orElseThrow();
          long start = record.address() - slice.address();
          var crc = new java.util.zip.CRC32();
          crc.update(record.asByteBuffer());
          assertThat(Integer.toUnsignedLong(slice.get(little, start + record.byteSize() + 4))).as(name)
              .isEqualTo(crc.getValue());
        }
      }
    }
  }
}
