package dev.megabridge.qwen35.mapping;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.ShardPlan;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A checkpoint that does not match its config fails in one MappingException naming every offender. */
class FailClosedTest {

  private static final AutoBridge AUTO = AutoBridge.discover();

  @TempDir
  Path temp;

  private ShardPlan plan(String fixture, Consumer<Map<String, Tensor>> edit) {
    Path folder = TestCheckpoints.rewrite(Fixtures.tiny(fixture), temp.resolve("ckpt"), config -> { }, edit);
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(folder)) {
      ParallelLayout layout = fixture.contains("moe") ? ParallelLayout.of(2, 2, 1, 2, 1) : ParallelLayout.of(2, 2, 1, 1, 1);
      return Importer.plan(checkpoint, HfConfig.load(folder), AUTO, layout, BridgeOptions.defaults());
    }
  }

  @Test
  void unmodifiedCheckpointPlans() {
    ShardPlan plan = plan("qwen35_moe_vl_packed_bf16", tensors -> { });
    assertThat(plan.ranks()).hasSize(8);
  }

  @Test
  void missingTensorsAreAllListed() {
    String a = "model.language_model.layers.3.self_attn.k_norm.weight";
    String b = "model.language_model.layers.6.mlp.experts.down_proj";
    String c = "model.visual.blocks.1.attn.qkv.bias";
    assertThatThrownBy(() -> plan("qwen35_moe_vl_packed_bf16", tensors -> {
      tensors.remove(a);
      tensors.remove(b);
      tensors.remove(c);
    })).isInstanceOf(MappingException.class).hasMessageContaining("3 tensors the model needs")
        .hasMessageContaining(a).hasMessageContaining(b).hasMessageContaining(c);
  }

  @Test
  void extraTensorsAreAllListed() {
    assertThatThrownBy(() -> plan("qwen35_dense_vl_bf16", tensors -> {
      Tensor norm = tensors.get("model.language_model.norm.weight");
      tensors.put("model.language_model.layers.0.mlp.extra.weight", norm);
      tensors.put("model.visual.blocks.9.norm1.weight", norm);
    })).isInstanceOf(MappingException.class).hasMessageContaining("2 tensors the checkpoint holds that no mapping")
        .hasMessageContaining("model.language_model.layers.0.mlp.extra.weight")
        .hasMessageContaining("model.visual.blocks.9.norm1.weight");
  }

  @Test
  void wrongShapesAreAllListed() {
    String q = "model.language_model.layers.3.self_attn.q_proj.weight";
    String conv = "model.language_model.layers.0.linear_attn.conv1d.weight";
    assertThatThrownBy(() -> plan("qwen35_dense_vl", tensors -> {
      tensors.put(q, tensors.get(q).slice(0, 0, 8));
      tensors.put(conv, tensors.get(conv).slice(2, 0, 3));
    })).isInstanceOf(MappingException.class).hasMessageContaining("2 tensors with the wrong shape")
        .hasMessageContaining(q).hasMessageContaining(conv);
  }

  @Test
  void missingExtraAndWrongShapeTogetherGiveOneError() {
    assertThatThrownBy(() -> plan("qwen35_moe_vl_bf16", tensors -> {
      tensors.remove("model.language_model.layers.2.mlp.experts.5.up_proj.weight");
      tensors.put("model.language_model.layers.2.mlp.experts.8.up_proj.weight",
          tensors.get("model.language_model.layers.2.mlp.experts.4.up_proj.weight"));
      tensors.put("mtp.fc.weight", tensors.get("mtp.fc.weight").slice(1, 0, 64));
    })).isInstanceOf(MappingException.class)
        .hasMessageContaining("model.language_model.layers.2.mlp.experts.5.up_proj.weight")
        .hasMessageContaining("model.language_model.layers.2.mlp.experts.8.up_proj.weight")
        .hasMessageContaining("mtp.fc.weight");
  }
}
