package dev.megabridge.core.io.safetensors;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.Fixtures;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The six tiny checkpoints written by transformers/torch open and read completely; the sharded copy equals the
 * single file; and the bf16 copies equal our RNE rounding of the fp32 weights (torch's {@code .to(bfloat16)}
 * as an outside reference for {@link DType#floatToBf16}).
 */
class SafetensorsFixtureTest {

  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl", "qwen35_dense_vl_bf16", "qwen35_dense_vl_bf16_sharded",
      "qwen35_moe_vl", "qwen35_moe_vl_bf16", "qwen35_moe_vl_packed_bf16"})
  void everyFixtureOpensAndEveryTensorReads(String model) {
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(Fixtures.tiny(model))) {
      assertThat(checkpoint.names()).isNotEmpty().doesNotHaveDuplicates();
      for (String name : checkpoint.names()) {
        Tensor tensor = checkpoint.tensor(name);
        assertThat(tensor.toByteArray()).hasSize((int) (tensor.numel() * tensor.dtype().byteSize()));
      }
      Set<DType> dtypes = checkpoint.names().stream().map(checkpoint::dtype).collect(Collectors.toSet());
      if (model.contains("bf16")) {
        // bf16 with the F32 exceptions of spec §2.5 in the same file.
        assertThat(dtypes).containsExactlyInAnyOrder(DType.BF16, DType.F32);
        assertThat(checkpoint.names().stream().filter(name -> checkpoint.dtype(name) == DType.F32))
            .isNotEmpty().allMatch(name -> name.endsWith("linear_attn.A_log") || name.endsWith("linear_attn.norm.weight"));
      } else {
        assertThat(dtypes).containsExactly(DType.F32);
      }
    }
  }

  @Test
  void shardedCopyEqualsTheSingleFile() {
    try (SafetensorsCheckpoint single = SafetensorsCheckpoint.open(Fixtures.tiny("qwen35_dense_vl_bf16"));
        SafetensorsCheckpoint sharded = SafetensorsCheckpoint.open(Fixtures.tiny("qwen35_dense_vl_bf16_sharded"))) {
      assertThat(sharded.files()).hasSize(3);
      assertThat(sharded.names()).containsExactlyInAnyOrderElementsOf(single.names());
      for (String name : single.names()) {
        assertThat(Tensor.contentEquals(single.tensor(name), sharded.tensor(name))).as(name).isTrue();
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl", "qwen35_moe_vl"})
  void bf16CopiesAreTheRoundedFp32Weights(String model) {
    try (SafetensorsCheckpoint fp32 = SafetensorsCheckpoint.open(Fixtures.tiny(model));
        SafetensorsCheckpoint bf16 = SafetensorsCheckpoint.open(Fixtures.tiny(model + "_bf16"))) {
      assertThat(bf16.names()).containsExactlyInAnyOrderElementsOf(fp32.names());
      for (String name : fp32.names()) {
        Tensor expected = fp32.tensor(name).convert(bf16.dtype(name));
        assertThat(Tensor.contentEquals(expected, bf16.tensor(name))).as(name).isTrue();
      }
    }
  }
}
