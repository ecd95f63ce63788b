package dev.megabridge.core.io.safetensors;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.MappedFiles;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Large runs of a memory-mapped source are read with pread instead of through the mapping; the output must be
 * exactly what the copy path writes, interleaved correctly with small runs and heap tensors.
 */
class SafetensorsTransferTest {

  @TempDir
  Path temp;

  @Test
  void mappedRunsAreCopiedExactlyAndInOrder() {
    SplittableRandom random = new SplittableRandom(5);
    byte[] big = new byte[3 << 20];
    byte[] small = new byte[1000];
    random.nextBytes(big);
    random.nextBytes(small);
    Path source = temp.resolve("source.safetensors");
    SafetensorsWriter.writeFile(source, List.of(
        new SafetensorsWriter.Entry("small", Tensor.of(DType.U8, Shape.of(1000), MemorySegment.ofArray(small))),
        new SafetensorsWriter.Entry("big", Tensor.of(DType.BF16, Shape.of(1536, 1024), MemorySegment.ofArray(big)))),
        bytes -> { });
    Path copy = temp.resolve("copy.safetensors");
    try (SafetensorsCheckpoint input = SafetensorsCheckpoint.openFiles(temp, List.of(source))) {
      Tensor whole = input.tensor("big");
      // Rows 512.. of the big tensor (a contiguous 2 MiB run, read with pread), a strided column slice (small runs,
      // buffered), a heap tensor, then the whole tensor again.
      List<SafetensorsWriter.Entry> entries = List.of(
          new SafetensorsWriter.Entry("tail", whole.slice(0, 512, 1024)),
          new SafetensorsWriter.Entry("columns", whole.slice(1, 100, 300)),
          new SafetensorsWriter.Entry("heap", Tensor.of(DType.U8, Shape.of(1000), MemorySegment.ofArray(small))),
          new SafetensorsWriter.Entry("whole", whole));
      assertThat(MappedFiles.locate(((dev.megabridge.core.tensor.StridedTensor) whole).contiguousSegment().address(),
          whole.byteSize())).isPresent();
      SafetensorsWriter.writeFile(copy, entries, bytes -> { });
      try (SafetensorsCheckpoint output = SafetensorsCheckpoint.openFiles(temp, List.of(copy))) {
        for (SafetensorsWriter.Entry entry : entries) {
          assertThat(output.tensor(entry.name()).toByteArray()).as(entry.name())
              .isEqualTo(entry.tensor().toByteArray());
        }
      }
    }
  }

  @Test
  void closedMappingsAreNeverReturned() {
    Path source = temp.resolve("one.safetensors");
    byte[] data = new byte[2 << 20];
    SafetensorsWriter.writeFile(source, List.of(new SafetensorsWriter.Entry("x",
        Tensor.of(DType.U8, Shape.of(data.length), MemorySegment.ofArray(data)))), bytes -> { });
    long address;
    try (SafetensorsCheckpoint input = SafetensorsCheckpoint.openFiles(temp, List.of(source))) {
      address = input.tensor("x").contiguousSegment().address();
      assertThat(MappedFiles.locate(address, data.length)).isPresent();
    }
    assertThat(MappedFiles.locate(address, data.length)).isEmpty();
  }
}
