package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The safetensors-in, safetensors-out forward entry point on the image case. */
class ForwardFilesTest {

  @Test
  void writesLogitsAndMtpLogitsOfAnImagePrompt(@TempDir Path directory) {
    SafetensorsCheckpoint reference = Fixtures.reference("qwen35_moe_vl");
    Path input = directory.resolve("input.safetensors");
    SafetensorsWriter.writeFile(input, List.of(
        new SafetensorsWriter.Entry("input_ids", reference.tensor("image.input_ids")),
        new SafetensorsWriter.Entry("pixel_values", reference.tensor("image.pixel_values")),
        new SafetensorsWriter.Entry("image_grid_thw", reference.tensor("image.image_grid_thw"))), bytes -> {});
    Path output = directory.resolve("output.safetensors");
    ForwardFiles.run(Fixtures.model("qwen35_moe_vl_packed_bf16"), Optional.empty(), input, output,
        RuntimeOptions.defaults().withThreads(2), false);

    try (SafetensorsCheckpoint written = SafetensorsCheckpoint.openFiles(directory, List.of(output))) {
      StridedTensor logits = written.tensor("logits");
      StridedTensor mtp = written.tensor("mtp_logits");
      assertThat(logits.shape()).isEqualTo(Shape.of(22, 1024));
      assertThat(mtp.shape()).isEqualTo(Shape.of(21, 1024));
      assertThat(Fixtures.maxAbsDifference(logits.toFloatArray(), Fixtures.floats(reference, "bf16w.image.logits")))
          .isLessThanOrEqualTo(Qwen35ReferenceTest.LOGITS_TOLERANCE);
      assertThat(Fixtures.maxAbsDifference(mtp.toFloatArray(), Fixtures.floats(reference, "bf16w.image.mtp.logits")))
          .isLessThanOrEqualTo(Qwen35ReferenceTest.LOGITS_TOLERANCE);
    }
  }
}
