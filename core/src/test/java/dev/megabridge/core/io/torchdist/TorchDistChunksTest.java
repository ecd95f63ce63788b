package dev.megabridge.core.io.torchdist;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.torchdist.TorchDistWriter.ChunkData;
import dev.megabridge.core.io.torchdist.TorchDistWriter.TensorEntry;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TorchDistChunksTest {

  /** Reassembles an entry's chunks with the reader's assembly, so layout and content are both checked. */
  private static Tensor reassemble(TensorEntry entry) {
    List<TorchDistReader.PlacedChunk> placed = entry.chunks().stream()
        .map(chunk -> new TorchDistReader.PlacedChunk(chunk.offsets().stream().mapToLong(Long::longValue).toArray(),
            chunk.data()))
        .toList();
    return TorchDistReader.ChunkAssembly.assemble(entry.key(), entry.dtype(), entry.globalShape(), placed);
  }

  @Test
  void swigluFc1IsTwoRowHalves() {
    Tensor fc1 = TorchDistRoundTripTest.randomTensor(DType.BF16, Shape.of(8, 3), 1);
    TensorEntry entry = TorchDistChunks.swigluFc1("decoder.layers.0.mlp.linear_fc1.weight", fc1);
    assertThat(entry.chunks()).extracting(ChunkData::offsets).containsExactly(List.of(0L, 0L), List.of(4L, 0L));
    assertThat(entry.chunks()).extracting(chunk -> chunk.data().shape()).containsOnly(Shape.of(4, 3));
    assertThat(reassemble(entry).toByteArray()).isEqualTo(fc1.toByteArray());
  }

  @Test
  void stackedLayersPrependTheLayerAxis() {
    List<Tensor> layers = List.of(TorchDistRoundTripTest.randomTensor(DType.F32, Shape.of(2, 3), 1),
        TorchDistRoundTripTest.randomTensor(DType.F32, Shape.of(2, 3), 2),
        TorchDistRoundTripTest.randomTensor(DType.F32, Shape.of(2, 3), 3));
    TensorEntry entry = TorchDistChunks.stackedLayers("vision_model.decoder.layers.mlp.linear_fc2.weight", layers);
    assertThat(entry.globalShape()).isEqualTo(Shape.of(3, 2, 3));
    assertThat(entry.chunks()).extracting(ChunkData::offsets)
        .containsExactly(List.of(0L, 0L, 0L), List.of(1L, 0L, 0L), List.of(2L, 0L, 0L));
    assertThat(entry.chunks()).extracting(chunk -> chunk.data().shape()).containsOnly(Shape.of(1, 2, 3));
    assertThat(reassemble(entry).toByteArray()).isEqualTo(Tensor.stack(layers).toByteArray());
  }

  @Test
  void expertFc1HasOneChunkPerExpertAndHalf() {
    List<Tensor> experts = List.of(TorchDistRoundTripTest.randomTensor(DType.BF16, Shape.of(4, 2), 5),
        TorchDistRoundTripTest.randomTensor(DType.BF16, Shape.of(4, 2), 6));
    TensorEntry entry = TorchDistChunks.experts("decoder.layers.1.mlp.experts.experts.linear_fc1.weight", experts,
        true);
    assertThat(entry.globalShape()).isEqualTo(Shape.of(2, 4, 2));
    assertThat(entry.chunks()).extracting(ChunkData::offsets).containsExactly(List.of(0L, 0L, 0L),
        List.of(0L, 2L, 0L), List.of(1L, 0L, 0L), List.of(1L, 2L, 0L));
    assertThat(entry.chunks()).extracting(chunk -> chunk.data().shape()).containsOnly(Shape.of(1, 2, 2));
    assertThat(reassemble(entry).toByteArray()).isEqualTo(Tensor.stack(experts).toByteArray());
  }

  @Test
  void sectionsSplitRowsIntoSeparateKeys() {
    Tensor fused = TorchDistRoundTripTest.randomTensor(DType.BF16, Shape.of(10, 4), 9);
    Map<String, Long> rows = new LinkedHashMap<>();
    rows.put("query", 2L);
    rows.put("key", 2L);
    rows.put("value", 3L);
    rows.put("z", 3L);
    List<TensorEntry> entries = TorchDistChunks.sections("decoder.layers.0.self_attention.in_proj.weight", fused, rows);
    assertThat(entries).extracting(TensorEntry::key).containsExactly(
        "decoder.layers.0.self_attention.in_proj.weight.query", "decoder.layers.0.self_attention.in_proj.weight.key",
        "decoder.layers.0.self_attention.in_proj.weight.value", "decoder.layers.0.self_attention.in_proj.weight.z");
    assertThat(entries.get(2).globalShape()).isEqualTo(Shape.of(3, 4));
    assertThat(entries.get(2).chunks().getFirst().data().toByteArray())
        .isEqualTo(fused.slice(0, 4, 3).toByteArray());
  }

  @Test
  void shardedObjectKeysFollowMegatron() {
    assertThat(TorchDistChunks.extraStateKey("decoder.layers.3.self_attention.linear_qkv"))
        .isEqualTo("decoder.layers.3.self_attention.linear_qkv._extra_state/shard_0_1");
    assertThat(TorchDistChunks.shardedObjectKey("decoder.layers.mlp.experts.experts.linear_fc1._extra_state",
        new long[] {5, 17}, new long[] {32, 128}))
        .isEqualTo("decoder.layers.mlp.experts.experts.linear_fc1._extra_state/shard_5.17_32.128");
  }
}
