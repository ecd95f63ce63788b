package dev.megabridge.qwen35.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.quant.Fp8Policy.TensorParallelAxis;
import dev.megabridge.core.quant.Fp8TensorParallelCheck;
import dev.megabridge.core.quant.Fp8TensorParallelCheck.Verdict;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.qwen35.Qwen35Fp8Policy;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The FP8 rule set against the list, name by name, on every tensor of the MoE and dense fixtures. */
class Qwen35Fp8PolicyTest {

  private static Qwen35Fp8Policy policy(Path folder) {
    HfConfig config = HfConfig.load(folder);
    return new Qwen35Fp8Policy(Qwen35Config.parse(config, config.architectures().getFirst()));
  }

  /** The expectation, written from the rule's text independently of the policy's pattern. */
  private static boolean expectedQuantized(String name) {
    if (name.startsWith("model.visual.") || name.startsWith("mtp.fc.") || name.contains("norm")
        || name.contains("embed_tokens") || name.startsWith("lm_head") || name.endsWith("mlp.gate.weight")
        || name.contains("shared_expert_gate") || name.contains("in_proj_a") || name.contains("in_proj_b")
        || name.contains("conv1d") || name.endsWith("A_log") || name.endsWith("dt_bias")) {
      return false;
    }
    for (String module : List.of("q_proj", "k_proj", "v_proj", "o_proj", "in_proj_qkv", "in_proj_z", "out_proj",
        "gate_proj", "up_proj", "down_proj", "gate_up_proj")) {
      if (name.endsWith("." + module + ".weight") || name.endsWith("experts." + module)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void quantizesExactlyTheListedWeightsOfEveryFixture() {
    for (String fixture : List.of("qwen35_moe_vl", "qwen35_dense_vl", "qwen35_moe_vl_packed_bf16")) {
      Path folder = Fixtures.tiny(fixture);
      Qwen35Fp8Policy policy = policy(folder);
      int quantized = 0;
      try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(folder)) {
        for (String name : checkpoint.names()) {
          assertThat(policy.quantizes(name)).as("%s in %s", name, fixture).isEqualTo(expectedQuantized(name));
          quantized += policy.quantizes(name) ? 1 : 0;
        }
      }
      assertThat(quantized).as(fixture).isPositive();
    }
  }

  @Test
  void splitAxesFollowColumnAndRowParallelism() {
    Qwen35Fp8Policy policy = policy(Fixtures.tiny("qwen35_moe_vl"));
    String layer = "model.language_model.layers.3.";
    assertThat(policy.tensorParallelAxis(layer + "self_attn.q_proj.weight")).contains(TensorParallelAxis.OUTPUT);
    assertThat(policy.tensorParallelAxis(layer + "self_attn.o_proj.weight")).contains(TensorParallelAxis.INPUT);
    assertThat(policy.tensorParallelAxis(layer + "linear_attn.out_proj.weight")).contains(TensorParallelAxis.INPUT);
    assertThat(policy.tensorParallelAxis(layer + "mlp.experts.down_proj")).contains(TensorParallelAxis.INPUT);
    assertThat(policy.tensorParallelAxis(layer + "mlp.experts.gate_up_proj")).contains(TensorParallelAxis.OUTPUT);
    assertThat(policy.isExpert(layer + "mlp.experts.7.up_proj.weight")).isTrue();
    assertThat(policy.isExpert(layer + "mlp.shared_expert.up_proj.weight")).isFalse();
    assertThat(policy.splitSections(layer + "mlp.experts.gate_up_proj", 1024)).containsExactly(512L, 512L);
  }

  /**
   * Qwen3.5-35B-A3B widths: moe_intermediate_size 512 → gate/up slices of 512 / tp rows; at TP 8 a slice is 64 rows,
   * half a 128-block, so TP 8 with expert TP = TP cannot load while TP 4 (128 rows) can.
   */
  @Test
  void reportsWhichTensorParallelSizesLoad() {
    HfConfig config = HfConfig.load(Fixtures.realConfig("Qwen3.5-35B-A3B"));
    Qwen35Config parsed = Qwen35Config.parse(config, config.architectures().getFirst());
    Qwen35Fp8Policy policy = new Qwen35Fp8Policy(parsed);
    Map<String, Shape> shapes = new LinkedHashMap<>();
    long hidden = parsed.text().hiddenSize();
    shapes.put("model.language_model.layers.0.mlp.experts.gate_up_proj", Shape.of(256, 2 * 512, hidden));
    shapes.put("model.language_model.layers.0.mlp.experts.down_proj", Shape.of(256, hidden, 512));
    List<Verdict> verdicts = Fp8TensorParallelCheck.check(shapes, policy, new Fp8Config(128, 128, List.of()),
        List.of(1, 2, 4, 8), size -> size, 5);
    assertThat(verdicts).extracting(Verdict::loads).containsExactly(true, true, true, false);
    assertThat(verdicts.get(3).blockers()).extracting(Fp8TensorParallelCheck.Blocker::name)
        .containsExactly("model.language_model.layers.0.mlp.experts.gate_up_proj",
            "model.language_model.layers.0.mlp.experts.down_proj");
    assertThat(Fp8TensorParallelCheck.check(shapes, policy, new Fp8Config(128, 128, List.of()), List.of(8),
        size -> 1, 5).getFirst().loads()).as("expert TP 1 keeps experts whole").isTrue();
  }
}
