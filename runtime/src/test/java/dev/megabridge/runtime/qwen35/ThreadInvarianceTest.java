package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Results are bit-identical for any thread count. */
class ThreadInvarianceTest {

  @Test
  void logitsAreIdenticalForOneTwoAndFiveThreads() {
    SafetensorsCheckpoint reference = Fixtures.reference("qwen35_moe_vl");
    long[] ids = Fixtures.longs(reference, "text_long.input_ids");
    float[][] logits = new float[3][];
    float[][] mtp = new float[3][];
    int[] threads = {1, 2, 5};
    for (int i = 0; i < threads.length; i++) {
      try (Qwen35Model model = Qwen35Model.load(Fixtures.model("qwen35_moe_vl_bf16"),
          RuntimeOptions.defaults().withThreads(threads[i]))) {
        ForwardResult result = model.forward(ids, Optional.empty());
        logits[i] = result.logits().data();
        mtp[i] = result.mtpLogits().orElseThrow().data();
      }
    }
    for (int i = 1; i < threads.length; i++) {
      assertThat(mismatches(logits[i], logits[0])).as("logits differing with %d threads", threads[i]).isZero();
      assertThat(mismatches(mtp[i], mtp[0])).as("MTP logits differing with %d threads", threads[i]).isZero();
    }
  }

  private static int mismatches(float[] actual, float[] expected) {
    assertThat(actual).hasSameSizeAs(expected);
    int count = 0;
    for (int i = 0; i < actual.length; i++) {
      if (Float.floatToRawIntBits(actual[i]) != Float.floatToRawIntBits(expected[i])) {
        count++;
      }
    }
    return count;
  }
}
