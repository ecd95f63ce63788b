package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.runtime.ops.FloatMatrix;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Forward parity of blockwise FP8: the runtime on the FP8 export of a bf16 fixture (read dequantized to bf16) against
 * the runtime on the bf16 fixture itself, on every reference prompt. The distance is a figure, not a gate: it is
 * printed, and only required to be finite (the FP8 model computes) and non-zero (the FP8 weights are what ran).
 */
class Fp8ForwardParityTest {

  @TempDir
  Path temp;

  @ParameterizedTest(name = "{0} {2}x{3}")
  @CsvSource({
      "qwen35_dense_vl_bf16, qwen35_dense_vl, 128, 128",
      "qwen35_dense_vl_bf16, qwen35_dense_vl, 16, 32",
      "qwen35_moe_vl_packed_bf16, qwen35_moe_vl, 128, 128",
      "qwen35_moe_vl_packed_bf16, qwen35_moe_vl, 16, 32"})
  void fp8ExportRunsCloseToItsBf16Source(String fixture, String referenceModel, int blockRows, int blockColumns) {
    Path fp8Folder = exportFp8(fixture, new Fp8Blocks(blockRows, blockColumns));
    Qwen35Model bf16 = Fixtures.loaded(fixture);
    SafetensorsCheckpoint reference = Fixtures.reference(referenceModel);
    try (Qwen35Model fp8 = Qwen35Model.load(fp8Folder, RuntimeOptions.defaults().withThreads(2))) {
      for (String caseName : new String[] {"text", "image", "text_long"}) {
        ForwardResult fromFp8 = Qwen35ReferenceTest.run(fp8, reference, caseName, ForwardTrace.NONE);
        ForwardResult fromBf16 = Qwen35ReferenceTest.run(bf16, reference, caseName, ForwardTrace.NONE);
        float[] bf16Logits = fromBf16.logits().data();
        double logits = Fixtures.maxAbsDifference(fromFp8.logits().data(), bf16Logits);
        double mtp = Fixtures.maxAbsDifference(fromFp8.mtpLogits().orElseThrow().data(),
            fromBf16.mtpLogits().orElseThrow().data());
        double bf16FromFp32 = Fixtures.maxAbsDifference(bf16Logits, Fixtures.floats(reference, caseName + ".logits"));
        System.out.printf("FP8 %dx%d %s %s: max |Δ logits| vs bf16 %.4g (max |logit| %.4g; same argmax at %d of %d "
            + "positions; MTP logits %.4g; for scale, bf16 vs fp32 weights: %.4g)%n", blockRows, blockColumns, fixture,
            caseName, logits, Fixtures.maxAbs(bf16Logits), sameArgmax(fromFp8.logits(), fromBf16.logits()),
            fromBf16.logits().rows(), mtp, bf16FromFp32);
        assertThat(logits).as("%s %s max |Δ logits|", fixture, caseName).isFinite().isPositive();
        assertThat(mtp).as("%s %s max |Δ MTP logits|", fixture, caseName).isFinite().isPositive();
      }
    }
  }

  private static int sameArgmax(FloatMatrix first, FloatMatrix second) {
    int same = 0;
    for (int row = 0; row < first.rows(); row++) {
      same += argmax(first.row(row)) == argmax(second.row(row)) ? 1 : 0;
    }
    return same;
  }

  private static int argmax(float[] values) {
    int best = 0;
    for (int index = 1; index < values.length; index++) {
      best = values[index] > values[best] ? index : best;
    }
    return best;
  }

  private Path exportFp8(String fixture, Fp8Blocks blocks) {
    AutoBridge autoBridge = AutoBridge.discover();
    Path shards = temp.resolve("shards");
    Path fp8Folder = temp.resolve("fp8");
    Importer.run(Fixtures.model(fixture), shards, new Importer.Options(ParallelLayout.of(1, 1, 1, 1, 1),
        BridgeOptions.defaults(), Optional.empty(), false, 2), autoBridge, Progress.NONE);
    Exporter.run(shards, fp8Folder, new Exporter.Options(Optional.empty(), Optional.empty(), false,
        Optional.of(blocks)), autoBridge, Progress.NONE);
    return fp8Folder;
  }
}
