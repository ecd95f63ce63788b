package dev.megabridge.core.io.safetensors;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.FileOrigin;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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
      assertThat(originsOf(whole)).singleElement().extracting(FileOrigin::file).isEqualTo(source.toAbsolutePath());
      SafetensorsWriter.writeFile(copy, entries, bytes -> { });
      try (SafetensorsCheckpoint output = SafetensorsCheckpoint.openFiles(temp, List.of(copy))) {
        for (SafetensorsWriter.Entry entry : entries) {
          assertThat(output.tensor(entry.name()).toByteArray()).as(entry.name())
              .isEqualTo(entry.tensor().toByteArray());
        }
      }
    }
  }

  /**
   * Every run of a view of a mapped tensor names the file it lies in, and the file holds the run's bytes at the
   * origin's offset plus the run's; runs of memory (a conversion's output, a heap tensor) have no origin.
   */
  @Test
  void runsOfMappedTensorsNameWhereTheirBytesLieInTheFile() throws IOException {
    SplittableRandom random = new SplittableRandom(9);
    byte[] first = new byte[4096];
    byte[] second = new byte[64 * 48 * 2];
    random.nextBytes(first);
    random.nextBytes(second);
    Path source = temp.resolve("two.safetensors");
    SafetensorsWriter.writeFile(source, List.of(
        new SafetensorsWriter.Entry("first", Tensor.of(DType.U8, Shape.of(first.length), MemorySegment.ofArray(first))),
        new SafetensorsWriter.Entry("second", Tensor.of(DType.BF16, Shape.of(64, 48),
            MemorySegment.ofArray(second)))), bytes -> { });
    byte[] file = Files.readAllBytes(source);
    try (SafetensorsCheckpoint input = SafetensorsCheckpoint.openFiles(temp, List.of(source))) {
      Tensor matrix = input.tensor("second");
      List<Tensor> views = List.of(input.tensor("first"), matrix, matrix.slice(0, 10, 20), matrix.slice(1, 5, 7),
          matrix.select(63), matrix.unsqueeze0().chunk(2, 4, 3),
          Tensor.concat(0, List.of(matrix.slice(0, 60, 4), matrix.slice(0, 0, 2))),
          Tensor.concat(1, List.of(matrix.slice(1, 40, 8), matrix.slice(1, 0, 8))));
      for (Tensor view : views) {
        List<byte[]> streamed = new ArrayList<>();
        view.forEachRun((segment, offset, length, origin) -> {
          byte[] run = segment.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
          assertThat(origin).as("origin of a run of " + view).isNotNull();
          assertThat(origin.file()).isEqualTo(source.toAbsolutePath());
          int at = Math.toIntExact(origin.fileOffset() + offset);
          assertThat(Arrays.copyOfRange(file, at, at + run.length)).as("file bytes under a run of " + view)
              .isEqualTo(run);
          streamed.add(run);
        });
        assertThat(streamed).as(view.toString()).isNotEmpty();
      }
      assertThat(originsOf(matrix.convert(DType.F32))).containsOnlyNulls();
    }
    assertThat(originsOf(Tensor.of(DType.U8, Shape.of(16), MemorySegment.ofArray(new byte[16])))).containsOnlyNulls();
  }

  /** The origin handed out with each run of {@code tensor}, in order. */
  private static List<FileOrigin> originsOf(Tensor tensor) {
    List<FileOrigin> origins = new ArrayList<>();
    tensor.forEachRun((segment, offset, length, origin) -> origins.add(origin));
    return origins;
  }
}
