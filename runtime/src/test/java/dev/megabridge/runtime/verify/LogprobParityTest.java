package dev.megabridge.runtime.verify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.runtime.ops.FloatMatrix;
import dev.megabridge.runtime.qwen35.ForwardResult;
import dev.megabridge.runtime.qwen35.ImagePreprocessor;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.RuntimeOptions;
import dev.megabridge.runtime.verify.LogprobParity.Prompt;
import dev.megabridge.runtime.verify.LogprobParity.Report;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The forward from a torch_dist checkpoint equals the forward from its HF source bit for bit, so verify reports
 * no difference; a copy with one perturbed tensor is reported, at the prompt and position where it shows.
 */
class LogprobParityTest {
  private static final RuntimeOptions TWO_THREADS = RuntimeOptions.defaults().withThreads(2);

  @TempDir
  Path temp;

  private static Path fixture(String name) {
    return Path.of(System.getProperty("megabridge.fixtures")).resolve("qwen35-tiny").resolve(name);
  }

  private static List<Prompt> defaults(Qwen35Model model) {
    return VerifyPrompts.defaults(model.config(), ImagePreprocessor.defaults(), model.vocabularySize());
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl", "qwen35_moe_vl_packed_bf16"})
  void torchDistForwardEqualsTheHfSourceBitForBit(String name) {
    Path torchDist = temp.resolve("torch_dist");
    try (CheckpointSource source = CheckpointSource.openHf(fixture(name))) {
      TorchDistImporter.write(source, torchDist, new TorchDistImporter.Options(
          ParallelLayout.of(1, 1, 1, 1, 1), BridgeOptions.defaults(), false, 2), AutoBridge.discover(), Progress.NONE);
    }
    try (Qwen35Model hf = Qwen35Model.load(fixture(name), TWO_THREADS);
        Qwen35Model fromTorchDist = Qwen35Model.load(torchDist, TWO_THREADS)) {
      List<Prompt> prompts = defaults(hf);
      assertThat(prompts).hasSize(2);
      for (Prompt prompt : prompts) {
        ForwardResult expected = hf.forward(prompt.inputIds(), prompt.image());
        ForwardResult actual = fromTorchDist.forward(prompt.inputIds(), prompt.image());
        assertThat(actual.logits().data()).as(prompt.label()).containsExactly(expected.logits().data());
        assertThat(actual.mtpLogits().orElseThrow().data()).containsExactly(expected.mtpLogits().orElseThrow().data());
      }
      Report report = LogprobParity.compare(hf, fromTorchDist, prompts, 0);
      assertThat(report.withinTolerance()).isTrue();
      assertThat(report.maxAbsDifference()).isZero();
      assertThat(report.prompts()).allSatisfy(result -> {
        assertThat(result.main().greedyAgreements()).isEqualTo(result.main().greedyPositions());
        assertThat(result.mtp()).isPresent();
      });
    }
  }

  @Test
  void aPerturbedTensorIsReportedBeyondTolerance() throws IOException {
    Path copy = perturbedCopy(fixture("qwen35_dense_vl"), "mtp.fc.weight", 0.5f);
    try (Qwen35Model hf = Qwen35Model.load(fixture("qwen35_dense_vl"), TWO_THREADS);
        Qwen35Model perturbed = Qwen35Model.load(copy, TWO_THREADS)) {
      Report report = LogprobParity.compare(hf, perturbed, defaults(hf), 1e-3);
      assertThat(report.withinTolerance()).isFalse();
      assertThat(report.worst().head()).as("only the MTP head reads mtp.fc").isEqualTo("mtp");
      assertThat(report.prompts()).allSatisfy(result -> assertThat(result.main().maxAbsDifference()).isZero());
    }
  }

  @Test
  void headComparisonUsesLogSoftmaxOfTheNextToken() {
    // Two positions over a 3-token vocabulary; the right model shifts every logit of row 0 by 1 (same softmax)
    // and raises token 2 in row 1.
    FloatMatrix left = new FloatMatrix(new float[] {0f, 1f, 2f, 0f, 0f, 0f}, 2, 3);
    FloatMatrix right = new FloatMatrix(new float[] {1f, 2f, 3f, 0f, 0f, (float) Math.log(2)}, 2, 3);
    LogprobParity.HeadComparison head = LogprobParity.compareHead(left, right, new long[] {5, 1, 2}, 1);
    assertThat(head.positions()).isEqualTo(2);
    // Row 1, target 2: log(1/3) vs log(2/4) → |Δ| = log(3/2).
    assertThat(head.maxAbsDifference()).isCloseTo(Math.log(1.5), offset(1e-6));
    assertThat(head.worstPosition()).isEqualTo(1);
    assertThat(head.meanAbsDifference()).isCloseTo(Math.log(1.5) / 2, offset(1e-6));
    assertThat(head.greedyAgreements()).as("row 1: argmax 0 (a tie, first wins) vs 2").isEqualTo(1);
  }

  /** A copy of an HF folder whose tensor {@code name} has {@code addend} added to every element. */
  private Path perturbedCopy(Path source, String name, float addend) throws IOException {
    Path copy = Files.createDirectories(temp.resolve("perturbed"));
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(source)) {
      List<SafetensorsWriter.Entry> entries = new ArrayList<>();
      for (String tensor : checkpoint.names()) {
        Tensor value = checkpoint.tensor(tensor);
        entries.add(new SafetensorsWriter.Entry(tensor, tensor.equals(name) ? value.convert(value.dtype(), addend)
            : value));
      }
      SafetensorsWriter.writeFile(copy.resolve("model.safetensors"), entries, bytes -> {});
    }
    try (var files = Files.list(source)) {
      for (Path file : files.filter(path -> path.getFileName().toString().endsWith(".json")).toList()) {
        Files.copy(file, copy.resolve(file.getFileName()));
      }
    }
    return copy;
  }
}
