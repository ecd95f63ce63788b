package dev.megabridge.qwen35.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.quant.Fp8BlockQuantizer;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.quant.Fp8DequantizedSource;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Fp8BlockQuantized;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.qwen35.Qwen35Fp8Policy;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code export --quantize fp8-block} from Megatron shards: every weight of the rule set becomes F8_E4M3 codes
 * equal to quantizing the source tensor directly, with its scale beside it in the same file; everything else is
 * the source bit for bit; config.json gains the quantization_config that lists what stayed in high precision.
 */
class Fp8ExportTest {

  @TempDir
  Path temp;

  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl_bf16_sharded", "qwen35_moe_vl_packed_bf16", "qwen35_moe_vl"})
  void exportQuantizesTheRuleSetAndKeepsTheRest(String fixture) {
    Path source = Fixtures.tiny(fixture);
    Path shards = temp.resolve("shards");
    Path exported = temp.resolve("fp8");
    AutoBridge autoBridge = AutoBridge.discover();
    Importer.run(source, shards, new Importer.Options(ParallelLayout.of(2, 1, 1, 1, 1), BridgeOptions.defaults(),
        Optional.empty(), false, 2), autoBridge, Progress.NONE);
    Exporter.run(shards, exported, new Exporter.Options(Optional.empty(), Optional.empty(), false,
        Optional.of(new Fp8Blocks(16, 32))), autoBridge, Progress.NONE);

    HfConfig config = HfConfig.load(source);
    Qwen35Fp8Policy policy = new Qwen35Fp8Policy(Qwen35Config.parse(config, config.architectures().getFirst()));
    Fp8Config written = Fp8Config.of(HfConfig.load(exported)).orElseThrow();
    assertThat(written.blockRows()).isEqualTo(16);
    assertThat(written.blockColumns()).isEqualTo(32);
    int quantized = 0;
    try (SafetensorsCheckpoint original = SafetensorsCheckpoint.open(source);
        SafetensorsCheckpoint fp8 = SafetensorsCheckpoint.open(exported)) {
      Fp8DequantizedSource readBack = Fp8DequantizedSource.of(fp8, written, DType.F32);
      assertThat(readBack.names()).containsExactlyElementsOf(original.names());
      for (String name : original.names()) {
        if (policy.quantizes(name)) {
          quantized++;
          Fp8BlockQuantized expected = new Fp8BlockQuantized(original.tensor(name), new Fp8BlockQuantizer(16, 32));
          assertThat(fp8.dtype(name)).as(name).isEqualTo(DType.F8_E4M3);
          assertThat(fp8.tensor(name).toByteArray()).as(name).isEqualTo(expected.codes().toByteArray());
          assertThat(fp8.tensor(Fp8Config.scaleName(name)).toByteArray()).isEqualTo(expected.scales().toByteArray());
          assertThat(fp8.location(Fp8Config.scaleName(name))).as("scale beside its weight").isEqualTo(fp8.location(name));
        } else {
          assertThat(fp8.tensor(name).toByteArray()).as(name).isEqualTo(original.tensor(name).toByteArray());
          if (name.endsWith(".weight")) {
            assertThat(written.modulesNotConverted()).contains(name.substring(0, name.length() - ".weight".length()));
          }
        }
      }
      assertThat(readBack.quantizedNames()).hasSize(quantized);
    }
    assertThat(quantized).isPositive();
  }
}
