package dev.megabridge.qwen35.torchdist;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.torchdist.MegatronCommonState;
import dev.megabridge.core.io.torchdist.TorchDistReader;
import dev.megabridge.core.io.torchdist.TorchDistWriter.ChunkData;
import dev.megabridge.core.io.torchdist.TorchDistWriter.TensorEntry;
import dev.megabridge.core.io.torchdist.TorchDistWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Export reads checkpoints chunked unlike ours — as a TP=2/EP=2 Megatron save writes them (§5.3: every key
 * split in two along axis 0 and, for matrices, along axis 1 too), with a v0.19 {@code common_state} item
 * among the DCP items and no sidecar — and still rebuilds the HF tensors bit for bit.
 */
class TorchDistResliceTest {

  @TempDir
  Path temp;

  @Test
  void otherChunkingExportsBitIdentical() {
    Path hf = Fixtures.tiny("qwen35_moe_vl_bf16");
    Path ours = TestCheckpoints.importTorchDist(hf, temp.resolve("ours"), ParallelLayout.single(),
        BridgeOptions.defaults());
    Path resliced = temp.resolve("resliced");
    try (TorchDistReader reader = TorchDistReader.open(ours)) {
      List<TensorEntry> tensors = new ArrayList<>();
      int multiChunk = 0;
      for (String key : reader.tensorKeys()) {
        TensorEntry entry = grid(key, reader.tensor(key));
        multiChunk += entry.chunks().size() > 1 ? 1 : 0;
        tensors.add(entry);
      }
      assertThat(multiChunk).isGreaterThan(100);
      List<TorchDistWriter.BytesEntry> objects = new ArrayList<>();
      for (String key : reader.objectKeys()) {
        objects.add(new TorchDistWriter.BytesEntry(key, reader.bytes(key).toArray(ValueLayout.JAVA_BYTE)));
      }
      PyDict common = MegatronCommonState.minimal(7);
      objects.add(TorchDistWriter.BytesEntry.shardedObject("common_state/shard_0_1", common));
      TorchDistWriter.writeCheckpointDirectory(resliced, new TorchDistWriter.Contents(tensors, objects, common),
          TorchDistWriter.Options.defaults(), false, bytes -> {});
    }
    Path exported = temp.resolve("hf");
    TestCheckpoints.exportHf(resliced, Optional.of(hf), exported);
    TorchDistRoundTripTest.assertIdentical(hf, exported);
  }

  /** The global tensor cut into halves along axis 0 and (for rank ≥ 2) axis 1, wherever the sizes are even. */
  private static TensorEntry grid(String key, Tensor global) {
    List<ChunkData> chunks = new ArrayList<>();
    int rank = global.shape().rank();
    int rowParts = rank >= 1 && global.shape().dim(0) % 2 == 0 ? 2 : 1;
    int columnParts = rank >= 2 && global.shape().dim(1) % 2 == 0 ? 2 : 1;
    for (int row = 0; row < rowParts; row++) {
      for (int column = 0; column < columnParts; column++) {
        Tensor part = global;
        List<Long> offsets = new ArrayList<>(java.util.Collections.nCopies(rank, 0L));
        if (rowParts == 2) {
          part = part.chunk(0, 2, row);
          offsets.set(0, row * part.shape().dim(0));
        }
        if (columnParts == 2) {
          part = part.chunk(1, 2, column);
          offsets.set(1, column * part.shape().dim(1));
        }
        chunks.add(new ChunkData(offsets, part));
      }
    }
    return new TensorEntry(key, global.dtype(), global.shape(), chunks);
  }
}
