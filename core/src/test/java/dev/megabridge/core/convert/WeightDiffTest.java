package dev.megabridge.core.convert;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.convert.WeightDiff.Status;
import dev.megabridge.core.convert.WeightDiff.TensorDiff;
import dev.megabridge.core.io.MapTensorSource;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WeightDiffTest {

  private static Tensor ramp(Shape shape, float offset) {
    float[] values = new float[Math.toIntExact(shape.numel())];
    for (int index = 0; index < values.length; index++) {
      values[index] = index * 0.5f + offset;
    }
    return Tensor.ofFloats(shape, values);
  }

  @Test
  void namesEveryDifferenceLargestFirst() {
    Map<String, Tensor> left = new LinkedHashMap<>();
    Map<String, Tensor> right = new LinkedHashMap<>();
    // Large enough to be read in several bands; one element of the last band changed.
    Shape big = Shape.of(3 * (WeightDiff.BAND_ELEMENTS / 1000 + 1), 1000);
    float[] changed = ramp(big, 0).toFloatArray();
    changed[changed.length - 3] += 2f;
    left.put("big", ramp(big, 0));
    right.put("big", Tensor.ofFloats(big, changed));
    left.put("same", ramp(Shape.of(4, 4), 1));
    right.put("same", ramp(Shape.of(4, 4), 1));
    left.put("slightly", ramp(Shape.of(8), 0));
    right.put("slightly", ramp(Shape.of(8), 0.25f));
    left.put("as_bf16", ramp(Shape.of(2, 3), 0));
    right.put("as_bf16", ramp(Shape.of(2, 3), 0).convert(DType.BF16).materialize());
    left.put("only_left", ramp(Shape.of(2), 0));
    right.put("only_right", ramp(Shape.of(2), 0));
    left.put("reshaped", ramp(Shape.of(2, 3), 0));
    right.put("reshaped", ramp(Shape.of(3, 2), 0));

    WeightDiff.Report report = WeightDiff.compare(new MapTensorSource("memory", left), new MapTensorSource("memory", right), 2, bytes -> {});

    assertThat(report.identical()).isFalse();
    assertThat(report.tensors()).extracting(TensorDiff::name)
        .containsExactly("only_left", "only_right", "reshaped", "big", "slightly", "as_bf16", "same");
    TensorDiff big1 = report.tensors().get(3);
    assertThat(big1.status()).isEqualTo(Status.DIFFERENT);
    assertThat(big1.differing()).isEqualTo(1);
    assertThat(big1.maxAbsDifference()).isEqualTo(2.0);
    assertThat(report.tensors().get(4).differing()).isEqualTo(8);
    assertThat(report.tensors().get(4).maxAbsDifference()).isEqualTo(0.25);
    assertThat(report.tensors().get(5).status()).as("equal values in another dtype").isEqualTo(Status.IDENTICAL);
    assertThat(report.count(Status.ONLY_LEFT)).isEqualTo(1);
    assertThat(report.count(Status.SHAPE_MISMATCH)).isEqualTo(1);
  }

  @Test
  void aCheckpointEqualsItself() {
    Map<String, Tensor> tensors = Map.of("a", ramp(Shape.of(5, 7), 0), "b", ramp(Shape.of(3), 2));
    WeightDiff.Report report = WeightDiff.compare(new MapTensorSource("memory", tensors), new MapTensorSource("memory", tensors), 1, bytes -> {});
    assertThat(report.identical()).isTrue();
    assertThat(report.bytesCompared()).isEqualTo(2 * (35 + 3) * 4);
  }
}
