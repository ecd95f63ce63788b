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

  /**
   * An FP8 folder imported and exported again: each quantized weight comes back as its dequantized value in bf16
   * ({@code float(q) * scale} rounded once), everything else bit for bit, and the config no longer claims FP8.
   * Re-quantizing that export reproduces the FP8 folder; how much of it is printed (a figure, not a gate).
   */
  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl_bf16", "qwen35_moe_vl_packed_bf16"})
  void anFp8FolderImportsDequantized(String fixture) {
    Path source = Fixtures.tiny(fixture);
    AutoBridge autoBridge = AutoBridge.discover();
    Importer.run(source, temp.resolve("shards"), new Importer.Options(ParallelLayout.of(1, 1, 1, 1, 1),
        BridgeOptions.defaults(), Optional.empty(), false, 2), autoBridge, Progress.NONE);
    Path fp8Folder = temp.resolve("fp8");
    Exporter.run(temp.resolve("shards"), fp8Folder, new Exporter.Options(Optional.empty(), Optional.empty(), false,
        Optional.of(new Fp8Blocks(16, 32))), autoBridge, Progress.NONE);
    Importer.run(fp8Folder, temp.resolve("fp8-shards"), new Importer.Options(ParallelLayout.of(2, 1, 1, 1, 1),
        BridgeOptions.defaults(), Optional.empty(), false, 2), autoBridge, Progress.NONE);
    Path plain = temp.resolve("plain");
    Exporter.run(temp.resolve("fp8-shards"), plain, new Exporter.Options(Optional.empty(), Optional.empty(), false),
        autoBridge, Progress.NONE);
    assertThat(HfConfig.load(plain).raw().has(Fp8Config.KEY)).isFalse();
    Path requantized = temp.resolve("requantized");
    Importer.run(plain, temp.resolve("plain-shards"), new Importer.Options(ParallelLayout.of(1, 1, 1, 1, 1),
        BridgeOptions.defaults(), Optional.empty(), false, 2), autoBridge, Progress.NONE);
    Exporter.run(temp.resolve("plain-shards"), requantized, new Exporter.Options(Optional.empty(), Optional.empty(),
        false, Optional.of(new Fp8Blocks(16, 32))), autoBridge, Progress.NONE);
    long codes = 0;
    long sameCodes = 0;
    long scales = 0;
    long sameScales = 0;
    try (SafetensorsCheckpoint original = SafetensorsCheckpoint.open(source);
        SafetensorsCheckpoint fp8 = SafetensorsCheckpoint.open(fp8Folder);
        SafetensorsCheckpoint back = SafetensorsCheckpoint.open(plain);
        SafetensorsCheckpoint again = SafetensorsCheckpoint.open(requantized)) {
      Fp8DequantizedSource dequantized = Fp8DequantizedSource.of(fp8, Fp8Config.of(HfConfig.load(fp8Folder))
          .orElseThrow(), DType.BF16);
      for (String name : original.names()) {
        assertThat(back.tensor(name).toByteArray()).as(name).isEqualTo(dequantized.tensor(name).toByteArray());
        if (dequantized.quantizedNames().contains(name)) {
          byte[] first = fp8.tensor(name).toByteArray();
          byte[] second = again.tensor(name).toByteArray();
          codes += first.length;
          for (int index = 0; index < first.length; index++) {
            sameCodes += first[index] == second[index] ? 1 : 0;
          }
          float[] firstScales = fp8.tensor(Fp8Config.scaleName(name)).toFloatArray();
          float[] secondScales = again.tensor(Fp8Config.scaleName(name)).toFloatArray();
          scales += firstScales.length;
          for (int index = 0; index < firstScales.length; index++) {
            sameScales += firstScales[index] == secondScales[index] ? 1 : 0;
          }
        } else {
          assertThat(back.tensor(name).toByteArray()).as(name).isEqualTo(original.tensor(name).toByteArray());
        }
      }
    }
    System.out.printf("%s: re-quantized FP8 codes identical %d of %d, scales %d of %d%n", fixture, sameCodes, codes,
        sameScales, scales);
    assertThat(codes).isPositive();
  }
}
