package dev.megabridge.qwen35.torchdist;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.io.torchdist.InteropScript;
import dev.megabridge.core.io.torchdist.MegatronCommonState;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.bridge.TestCheckpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Qwen3.5-VL torch_dist interop with real PyTorch ({@code scripts/torchdist/interop.sh}, venv from the
 * machine's local torch wheel in {@code core/target/torch-venv}): torch's DCP readers load what Java wrote
 * from each tiny fixture with the keys, global shapes, chunks and dtypes Megatron expects and values equal to
 * the HF source after the spec's transforms, computed independently in Python; and Java exports HF, bit for
 * bit, from a Megatron-like checkpoint that {@code torch.distributed.checkpoint.save} wrote. Skipped only on a
 * machine without {@code python3} (script exit status 3).
 */
class TorchDistQwenInteropTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static Path script;

  @TempDir
  Path temp;

  @BeforeAll
  static void createVenv() throws Exception {
    script = InteropScript.setUp();
  }

  @Test
  void torchReadsWhatJavaWroteWithMegatronKeysShapesAndValues() throws Exception {
    List<String> models = List.of("qwen35_dense_vl", "qwen35_dense_vl_bf16", "qwen35_moe_vl", "qwen35_moe_vl_packed_bf16");
    Map<String, Path> checkpoints = new LinkedHashMap<>();
    List<String> arguments = new ArrayList<>(List.of("verify-qwen", temp.toString()));
    for (String model : models) {
      Path save = TestCheckpoints.importTorchDist(Fixtures.tiny(model), temp.resolve(model),
          ParallelLayout.single(), BridgeOptions.defaults());
      Path checkpoint = save.resolve("release");
      checkpoints.put(model, checkpoint);
      arguments.add(checkpoint.toString());
      arguments.add(Fixtures.tiny(model).toString());
    }
    InteropScript.runOk(script, arguments);

    JsonNode report = JSON.readTree(temp.resolve("qwen-report.json").toFile());
    for (Map.Entry<String, Path> checkpoint : checkpoints.entrySet()) {
      JsonNode entry = report.get(checkpoint.getValue().toString());
      String model = checkpoint.getKey();
      for (String list : List.of("missing", "unexpected", "different", "different_dcp_load", "extra_states_missing",
          "extra_states_unexpected")) {
        assertThat(entry.get(list)).as(model + " " + list).isEmpty();
      }
      assertThat(entry.get("tensor_count").asInt()).as(model).isGreaterThan(100);
      assertThat(entry.get("extra_state_count").asInt()).as(model).isGreaterThan(50);
      assertThat(entry.get("extra_states_empty_uint8").asBoolean()).as(model).isTrue();
      JsonNode args = entry.get("common").get("args").get("Namespace");
      assertThat(args.get("num_layers").asInt()).isEqualTo(8);
      assertThat(args.get("hidden_size").asInt()).isEqualTo(64);
      assertThat(entry.get("common").get("checkpoint_version").asDouble()).isEqualTo(3.0);

      JsonNode chunks = entry.get("chunks");
      // Stacked vision keys: one [1, …] chunk per layer (§5.2).
      assertThat(chunks.get("vision_model.decoder.layers.self_attention.linear_qkv.weight").toString())
          .isEqualTo("[[0,0,0,\"/\",1,96,32],[1,0,0,\"/\",1,96,32]]");
      assertThat(entry.get("shapes").get("language_model.decoder.layers.3.self_attention.linear_qkv.weight").toString())
          .isEqualTo("[768,64]");
      assertThat(entry.get("shapes").get("language_model.decoder.layers.0.self_attention.in_proj.weight.beta").toString())
          .isEqualTo("[4,64]");
      if (model.contains("moe")) {
        // Experts: fc1 two chunks per expert (gate, up), fc2 one per expert (§5.4).
        JsonNode fc1 = chunks.get("language_model.decoder.layers.0.mlp.experts.experts.linear_fc1.weight");
        assertThat(fc1).hasSize(16);
        assertThat(fc1.get(1).toString()).isEqualTo("[0,32,0,\"/\",1,32,64]");
        assertThat(fc1.get(15).toString()).isEqualTo("[7,32,0,\"/\",1,32,64]");
        assertThat(chunks.get("language_model.mtp.layers.0.transformer_layer.mlp.experts.experts.linear_fc2.weight"))
            .hasSize(8);
        assertThat(chunks.get("language_model.decoder.layers.0.mlp.shared_experts.linear_fc1.weight").toString())
            .isEqualTo("[[0,0,\"/\",64,64],[64,0,\"/\",64,64]]");
      } else {
        assertThat(chunks.get("language_model.decoder.layers.0.mlp.linear_fc1.weight").toString())
            .isEqualTo("[[0,0,\"/\",128,64],[128,0,\"/\",128,64]]");
      }
      if (model.contains("bf16")) {
        JsonNode dtypes = entry.get("dtypes");
        assertThat(dtypes.get("language_model.decoder.layers.0.self_attention.A_log").asText()).isEqualTo("torch.float32");
        assertThat(dtypes.get("language_model.decoder.layers.0.self_attention.out_norm.weight").asText())
            .isEqualTo("torch.float32");
        assertThat(dtypes.get("language_model.decoder.layers.0.self_attention.in_proj.weight.query").asText())
            .isEqualTo("torch.bfloat16");
      }
    }
  }

  /** {@code --common-state sharded}: torch reads the model and, weights_only, the v0.19 common state object. */
  @Test
  void torchReadsTheShardedCommonStateOfAQwenCheckpoint() throws Exception {
    Path hf = Fixtures.tiny("qwen35_moe_vl_packed_bf16");
    Path save = temp.resolve("sharded");
    try (CheckpointSource source = CheckpointSource.openHf(hf)) {
      TorchDistImporter.write(source, save, new TorchDistImporter.Options(ParallelLayout.single(),
          BridgeOptions.defaults(), false, 2, MegatronCommonState.Storage.SHARDED), AutoBridge.discover(),
          Progress.NONE);
    }
    Path checkpoint = save.resolve("release");
    assertThat(checkpoint.resolve("common.pt")).doesNotExist();
    InteropScript.runOk(script, List.of("verify-qwen", temp.toString(), checkpoint.toString(), hf.toString()));

    JsonNode entry = JSON.readTree(temp.resolve("qwen-report.json").toFile()).get(checkpoint.toString());
    for (String list : List.of("missing", "unexpected", "different", "different_dcp_load", "extra_states_missing",
        "extra_states_unexpected")) {
      assertThat(entry.get(list)).as(list).isEmpty();
    }
    assertThat(entry.get("common_form").asText()).isEqualTo("common_state/shard_0_1");
    JsonNode args = entry.get("common").get("args").get("Namespace");
    assertThat(args.get("num_layers").asInt()).isEqualTo(8);
    assertThat(args.get("hidden_size").asInt()).isEqualTo(64);
    assertThat(entry.get("common").get("checkpoint_version").asDouble()).isEqualTo(3.0);
  }

  @Test
  void javaExportsHfFromACheckpointTorchWrote() throws Exception {
    for (String model : List.of("qwen35_dense_vl_bf16", "qwen35_moe_vl_bf16")) {
      Path checkpoint = temp.resolve(model + "-torch");
      InteropScript.runOk(script, List.of("save-qwen", checkpoint.toString(), Fixtures.tiny(model).toString()));
      Path exported = temp.resolve(model + "-hf");
      TestCheckpoints.exportHf(checkpoint, Optional.of(Fixtures.tiny(model)), exported);
      TorchDistRoundTripTest.assertIdentical(Fixtures.tiny(model), exported);
    }
  }
}
