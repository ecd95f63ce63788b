package dev.megabridge.core.quant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.io.MapTensorSource;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Writing an HF view as FP8 and reading it back: names, order, config, and the pairing checks of a reader. */
class Fp8SourceTest {

  /** Quantizes every 2-D weight whose name contains "proj"; nothing about experts or TP. */
  private static final Fp8Policy PROJECTIONS = new Fp8Policy() {
    @Override
    public boolean quantizes(String hfName) {
      return hfName.contains("proj");
    }

    @Override
    public Optional<TensorParallelAxis> tensorParallelAxis(String hfName) {
      return Optional.of(TensorParallelAxis.OUTPUT);
    }

    @Override
    public boolean isExpert(String hfName) {
      return false;
    }
  };

  private static Map<String, Tensor> model() {
    SplittableRandom random = new SplittableRandom(5);
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("layer.q_proj.weight", random(random, Shape.of(130, 64)).convert(DType.BF16).materialize());
    tensors.put("layer.norm.weight", random(random, Shape.of(64)).convert(DType.BF16).materialize());
    tensors.put("experts.gate_up_proj", random(random, Shape.of(2, 40, 64)).convert(DType.BF16).materialize());
    tensors.put("lm_head.weight", random(random, Shape.of(10, 64)).convert(DType.BF16).materialize());
    return tensors;
  }

  private static Tensor random(SplittableRandom random, Shape shape) {
    float[] values = new float[Math.toIntExact(shape.numel())];
    for (int index = 0; index < values.length; index++) {
      values[index] = (float) random.nextGaussian();
    }
    return Tensor.ofFloats(shape, values);
  }

  @Test
  void quantizedViewPutsEachScaleAfterItsWeightAndListsTheRest() {
    Fp8Quantization quantization = Fp8Quantization.of(model(), PROJECTIONS, 128, 128);
    assertThat(quantization.tensors().keySet()).containsExactly("layer.q_proj.weight",
        "layer.q_proj.weight_scale_inv", "layer.norm.weight", "experts.gate_up_proj", "experts.gate_up_proj_scale_inv",
        "lm_head.weight");
    assertThat(quantization.quantized()).containsExactly("layer.q_proj.weight", "experts.gate_up_proj");
    assertThat(quantization.config().modulesNotConverted()).containsExactly("layer.norm", "lm_head");
    assertThat(quantization.tensors().get("experts.gate_up_proj_scale_inv").shape()).isEqualTo(Shape.of(2, 1, 1));
    assertThat(quantization.tensors().get("layer.q_proj.weight_scale_inv").shape()).isEqualTo(Shape.of(2, 1));
  }

  @Test
  void readingBackDequantizesWithinOneStep() {
    Map<String, Tensor> model = model();
    Fp8Quantization quantization = Fp8Quantization.of(model, PROJECTIONS, 128, 128);
    Fp8DequantizedSource source = Fp8DequantizedSource.of(new MapTensorSource("memory", materialized(quantization.tensors())),
        quantization.config(), DType.F32);
    assertThat(source.names()).containsExactlyElementsOf(model.keySet());
    assertThat(source.quantizedNames()).containsExactly("layer.q_proj.weight", "experts.gate_up_proj");
    assertThat(source.dtype("layer.q_proj.weight")).isEqualTo(DType.F32);
    assertThat(source.dtype("layer.norm.weight")).isEqualTo(DType.BF16);
    float[] original = model.get("layer.q_proj.weight").toFloatArray();
    float[] restored = source.tensor("layer.q_proj.weight").toFloatArray();
    for (int index = 0; index < original.length; index++) {
      assertThat((double) Math.abs(restored[index] - original[index]))
          .isLessThanOrEqualTo(Math.max(Math.abs(original[index]) / 16, 1e-3));
    }
  }

  @Test
  void pairingErrorsNameTheTensor() {
    Fp8Quantization quantization = Fp8Quantization.of(model(), PROJECTIONS, 128, 128);
    Map<String, Tensor> noScale = materialized(quantization.tensors());
    noScale.remove("layer.q_proj.weight_scale_inv");
    assertThatThrownBy(() -> Fp8DequantizedSource.of(new MapTensorSource("memory", noScale), quantization.config(), DType.BF16))
        .isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("'layer.q_proj.weight' has no scale 'layer.q_proj.weight_scale_inv'");
    Map<String, Tensor> wrongShape = materialized(quantization.tensors());
    wrongShape.put("layer.q_proj.weight_scale_inv", Tensor.ofFloats(Shape.of(1, 1), 1f));
    assertThatThrownBy(() -> Fp8DequantizedSource.of(new MapTensorSource("memory", wrongShape), quantization.config(), DType.BF16))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("expected F32[2, 1]");
    Map<String, Tensor> orphan = materialized(quantization.tensors());
    orphan.put("layer.norm.weight_scale_inv", Tensor.ofFloats(Shape.of(1), 1f));
    assertThatThrownBy(() -> Fp8DequantizedSource.of(new MapTensorSource("memory", orphan), quantization.config(), DType.BF16))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("has no F8_E4M3 weight 'layer.norm.weight'");
  }

  @Test
  void configRoundTripsAndRejectsWhatIsNotBlockwiseE4m3() {
    Fp8Config config = new Fp8Config(128, 128, List.of("lm_head"));
    HfConfig written = HfConfig.parse(Path.of("config.json"),
        config.writeInto(HfConfig.JSON.createObjectNode().put("model_type", "x")).toString());
    assertThat(Fp8Config.of(written)).contains(config);
    assertThat(Fp8Config.of(HfConfig.parse(Path.of("config.json"), "{}"))).isEmpty();
    assertThatThrownBy(() -> Fp8Config.of(HfConfig.parse(Path.of("config.json"),
        "{\"quantization_config\": {\"quant_method\": \"fp8\", \"weight_block_size\": [128, 128]}}")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("quantization_config.fmt");
    assertThatThrownBy(() -> Fp8Config.of(HfConfig.parse(Path.of("config.json"),
        "{\"quantization_config\": {\"quant_method\": \"fp8\", \"fmt\": \"e5m2\", \"weight_block_size\": [128, 128]}}")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("e5m2");
    assertThatThrownBy(() -> Fp8Config.of(HfConfig.parse(Path.of("config.json"),
        "{\"quantization_config\": {\"quant_method\": \"fp8\", \"fmt\": \"e4m3\", \"weight_block_size\": [128]}}")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("weight_block_size");
  }

  @Test
  void sliceProblemsAreFoundAtBlockBoundaries() {
    assertThat(Fp8TensorParallelCheck.sliceProblem(512, 4, 128)).isEmpty();
    assertThat(Fp8TensorParallelCheck.sliceProblem(512, 8, 128)).contains("slices of 64 cut through blocks of 128");
    assertThat(Fp8TensorParallelCheck.sliceProblem(500, 3, 128)).contains("500 does not split into 3 equal slices");
    assertThat(Fp8TensorParallelCheck.sliceProblem(100, 1, 128)).isEmpty();
  }

  private static Map<String, Tensor> materialized(Map<String, Tensor> tensors) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    tensors.forEach((name, tensor) -> out.put(name, tensor.materialize()));
    return out;
  }
}
