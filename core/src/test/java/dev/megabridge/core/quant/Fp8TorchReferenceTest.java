package dev.megabridge.core.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.safetensors.SafetensorsFile;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.io.torchdist.InteropScript;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Fp8BlockQuantized;
import dev.megabridge.core.tensor.Fp8DequantizedTensor;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both directions of blockwise FP8 bit for bit against the reference algorithm written independently in torch
 * ({@code scripts/fp8/reference.py}, run through {@code scripts/torchdist/interop.sh fp8}), on shapes that are not
 * multiples of 128, all-zero blocks, negative zeros, subnormal results, exact rounding ties, values whose quotient
 * lands on ±448, and packed experts. Skips only on a machine without {@code python3}.
 */
class Fp8TorchReferenceTest {
  private static final Fp8BlockQuantizer BLOCKS = new Fp8BlockQuantizer(128, 128);
  private static Path script;

  @TempDir
  Path temp;

  @BeforeAll
  static void createVenv() throws Exception {
    script = InteropScript.setUp();
  }

  private static Map<String, Tensor> awkwardWeights() {
    SplittableRandom random = new SplittableRandom(20261206);
    Map<String, Tensor> weights = new LinkedHashMap<>();
    weights.put("gaussian", gaussian(random, Shape.of(130, 257), 0.02).convert(DType.BF16).materialize());
    float[] zeros = gaussianValues(random, 200 * 300, 1.0);
    for (int row = 0; row < 200; row++) {
      for (int column = 0; column < 300; column++) {
        boolean zeroBlock = (row < 128 && column < 128) || (row >= 128 && column >= 256);
        if (zeroBlock) {
          zeros[row * 300 + column] = (row + column) % 2 == 0 ? 0f : -0f;
        }
      }
    }
    weights.put("zero_blocks", Tensor.ofFloats(Shape.of(200, 300), zeros).convert(DType.BF16).materialize());
    // One large value per block: the others quantize to e4m3 subnormals (|w / scale| < 2^-6).
    float[] tiny = gaussianValues(random, 128 * 256, 1e-4);
    tiny[5] = 3f;
    tiny[128 * 256 - 7] = -2f;
    weights.put("subnormal_results", Tensor.ofFloats(Shape.of(128, 256), tiny));
    weights.put("ties", Tensor.ofFloats(Shape.of(128, 128), tieValues()));
    weights.put("experts", gaussian(random, Shape.of(3, 200, 130), 0.05).convert(DType.BF16).materialize());
    weights.put("single", Tensor.ofFloats(Shape.of(1, 1), -0.37f));
    weights.put("huge_range", Tensor.ofFloats(Shape.of(2, 3), 1e30f, -1e-30f, 7f, -1e30f, 0f, 448f));
    return weights;
  }

  /** Block max 448 makes the scale exactly 1: every e4m3 value and every midpoint between two (a tie) appears. */
  private static float[] tieValues() {
    List<Float> values = new ArrayList<>();
    values.add(448f);
    for (int code = 0; code < 0x7E; code++) {
      float value = Fp8E4m3.toFloat((byte) code);
      float next = Fp8E4m3.toFloat((byte) (code + 1));
      values.add(value);
      values.add((value + next) / 2);
      values.add(-(value + next) / 2);
      values.add(Math.nextUp((value + next) / 2));
      values.add(Math.nextDown((value + next) / 2));
    }
    float[] out = new float[128 * 128];
    for (int index = 0; index < out.length; index++) {
      out[index] = values.get(index % values.size());
    }
    return out;
  }

  private static Tensor gaussian(SplittableRandom random, Shape shape, double sigma) {
    return Tensor.ofFloats(shape, gaussianValues(random, Math.toIntExact(shape.numel()), sigma));
  }

  private static float[] gaussianValues(SplittableRandom random, int count, double sigma) {
    float[] values = new float[count];
    for (int index = 0; index < count; index++) {
      values[index] = (float) (random.nextGaussian() * sigma);
    }
    return values;
  }

  @Test
  void quantizationEqualsTorchBitForBit() throws Exception {
    Map<String, Tensor> weights = awkwardWeights();
    Path input = temp.resolve("weights.safetensors");
    Path output = temp.resolve("torch.safetensors");
    SafetensorsWriter.writeFile(input, weights.entrySet().stream()
        .map(entry -> new SafetensorsWriter.Entry(entry.getKey(), entry.getValue())).toList(), bytes -> {});
    InteropScript.runOk(script, List.of("fp8", "quantize", input.toString(), output.toString()));
    try (Arena arena = Arena.ofConfined()) {
      SafetensorsFile torch = SafetensorsFile.open(output, arena);
      for (Map.Entry<String, Tensor> weight : weights.entrySet()) {
        Fp8BlockQuantized ours = new Fp8BlockQuantized(weight.getValue(), BLOCKS);
        Tensor torchCodes = torch.tensor(weight.getKey());
        Tensor torchScales = torch.tensor(weight.getKey() + ".scale");
        assertThat(torchCodes.dtype()).isEqualTo(DType.F8_E4M3);
        assertThat(ours.codes().toByteArray()).as("codes of %s", weight.getKey()).isEqualTo(torchCodes.toByteArray());
        assertThat(ours.scales().shape()).isEqualTo(torchScales.shape());
        assertThat(ours.scales().toByteArray()).as("scales of %s", weight.getKey())
            .isEqualTo(torchScales.toByteArray());
      }
    }
  }

  @Test
  void dequantizationEqualsTorchBitForBit() throws Exception {
    Map<String, Tensor> weights = awkwardWeights();
    List<SafetensorsWriter.Entry> quantized = new ArrayList<>();
    for (Map.Entry<String, Tensor> weight : weights.entrySet()) {
      Fp8BlockQuantized ours = new Fp8BlockQuantized(weight.getValue(), BLOCKS);
      quantized.add(new SafetensorsWriter.Entry(weight.getKey(), ours.codes()));
      quantized.add(new SafetensorsWriter.Entry(weight.getKey() + ".scale", ours.scales()));
    }
    Path input = temp.resolve("fp8.safetensors");
    Path output = temp.resolve("torch.safetensors");
    SafetensorsWriter.writeFile(input, quantized, bytes -> {});
    InteropScript.runOk(script, List.of("fp8", "dequantize", input.toString(), output.toString()));
    try (Arena arena = Arena.ofConfined()) {
      SafetensorsFile fp8 = SafetensorsFile.open(input, arena);
      SafetensorsFile torch = SafetensorsFile.open(output, arena);
      for (String name : weights.keySet()) {
        for (DType dtype : List.of(DType.BF16, DType.F32)) {
          Tensor ours = Fp8DequantizedTensor.of(fp8.tensor(name), fp8.tensor(name + ".scale"), dtype, 128, 128);
          Tensor reference = torch.tensor(dtype == DType.BF16 ? name : name + ".f32");
          assertThat(ours.toByteArray()).as("%s as %s", name, dtype).isEqualTo(reference.toByteArray());
        }
      }
    }
  }
}
