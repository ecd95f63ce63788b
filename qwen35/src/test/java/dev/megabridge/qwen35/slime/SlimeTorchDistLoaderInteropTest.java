package dev.megabridge.qwen35.slime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.io.torchdist.InteropScript;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.VocabPadding;
import dev.megabridge.qwen35.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * slime-schema torch_dist read by real PyTorch ({@code scripts/slime/loader-check.sh}, in the torch venv of
 * {@code scripts/torchdist/interop.sh}): torch's DCP reader loads what Java wrote, the keys, shapes, chunks and
 * {@code _extra_state} objects are those of slime-native-schema §4.2 / §2.9, {@code common.pt} carries the args of
 * §4.4 / §6.4, and every tensor equals, bit for bit, what a Python re-implementation of slime's loader (§2.1:
 * {@code qwen3_5_hf_tensor} semantics, vocabulary zero-padding, {@code shard_mcore_tensor} at TP 1, bf16 cast) builds
 * from the HF files. Skipped only on a machine without {@code python3} (script exit status 3).
 */
class SlimeTorchDistLoaderInteropTest {

  private static final int NO_PYTHON = 3;
  private static final AutoBridge AUTO_BRIDGE = AutoBridge.discover();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> PROBLEM_LISTS = List.of("missing", "unexpected", "wrong_shape", "wrong_dtype",
      "stacked_layer_keys", "not_single_chunk", "different", "pad_rows_not_zero", "extra_states_missing",
      "extra_states_unexpected", "extra_states_of_hf_modules", "common_problems");

  @TempDir
  Path temp;

  @BeforeAll
  static void createVenv() throws Exception {
    InteropScript.setUp();
  }

  /** One checkpoint to write and check: its HF source, layout, vocabulary option and the rows that gives. */
  private record Case(String name, Path hf, ParallelLayout layout, VocabPadding padding, long paddedVocab) {}

  @Test
  void slimesLoaderRulesAgreeWithEveryTensorOfOurTorchDist() throws Exception {
    Path text = SlimeSources.textOnly(Fixtures.tiny("qwen35_moe_vl_packed_bf16"), temp.resolve("moe-text"));
    Path vocab600 = SlimeSources.vocabulary(Fixtures.tiny("qwen35_dense_vl_bf16"), temp.resolve("dense-vocab-600"),
        600);
    Path tied = SlimeSources.tied(Fixtures.tiny("qwen35_dense_vl_bf16"), temp.resolve("dense-tied"));
    List<Case> cases = List.of(
        new Case("dense-vl", Fixtures.tiny("qwen35_dense_vl_bf16"), ParallelLayout.of(2, 1, 1, 1, 1),
            VocabPadding.megatron(), 1024),
        new Case("moe-vl-packed-pad-1280", Fixtures.tiny("qwen35_moe_vl_packed_bf16"), ParallelLayout.of(2, 1, 1, 2, 1),
            new VocabPadding.Exactly(1280), 1280),
        new Case("moe-vl-per-expert", Fixtures.tiny("qwen35_moe_vl_bf16"), ParallelLayout.of(1, 1, 1, 1, 1),
            VocabPadding.megatron(), 1024),
        // V = 600 for a TP 2 run: ceil(600 / 256)·256 = 768 rows (§4.3; TP 1 would give 640), though stored at TP 1.
        new Case("dense-vl-vocab-600", vocab600, ParallelLayout.of(2, 1, 1, 1, 1), VocabPadding.megatron(), 768),
        new Case("dense-vl-vocab-600-unpadded", vocab600, ParallelLayout.of(2, 1, 1, 1, 1), VocabPadding.none(), 600),
        new Case("moe-text", text, ParallelLayout.of(1, 1, 1, 1, 1), VocabPadding.megatron(), 1024),
        // Tied: no output_layer key (§2.2 row 2, §4.6).
        new Case("dense-vl-tied", tied, ParallelLayout.of(1, 1, 1, 1, 1), VocabPadding.megatron(), 1024));

    Path script = Path.of(System.getProperty("megabridge.root")).resolve("scripts/slime/loader-check.sh");
    List<String> command = new ArrayList<>(List.of(script.toString(), temp.toString()));
    Map<String, Case> byCheckpoint = new LinkedHashMap<>();
    for (Case c : cases) {
      Path save = temp.resolve("save-" + c.name());
      try (CheckpointSource source = CheckpointSource.openHf(c.hf())) {
        TorchDistImporter.write(source, save, new TorchDistImporter.Options(c.layout(),
            BridgeOptions.forSchema(Schema.SLIME).withVocabPadding(c.padding()), false, 2), AUTO_BRIDGE, Progress.NONE);
      }
      Path release = save.resolve("release");
      byCheckpoint.put(release.toString(), c);
      command.addAll(List.of(release.toString(), c.hf().toString(), Long.toString(c.paddedVocab())));
    }
    InteropScript.Result result = InteropScript.run(command, 600);
    Assumptions.assumeTrue(result.exitCode() != NO_PYTHON, "no python3 on this machine: " + result.output());
    if (result.exitCode() != 0) {
      fail(String.join(" ", command) + " failed (exit " + result.exitCode() + "):\n" + result.output());
    }

    JsonNode report = JSON.readTree(temp.resolve("slime-loader-report.json").toFile());
    assertThat(report.size()).isEqualTo(cases.size());
    for (Map.Entry<String, Case> checkpoint : byCheckpoint.entrySet()) {
      JsonNode entry = report.get(checkpoint.getKey());
      Case c = checkpoint.getValue();
      for (String list : PROBLEM_LISTS) {
        assertThat(entry.get(list)).as(c.name() + " " + list).isEmpty();
      }
      assertThat(entry.get("embedding_shape").toString()).as(c.name()).isEqualTo("[" + c.paddedVocab() + ",64]");
      assertThat(entry.get("tensor_count").asInt()).as(c.name()).isGreaterThan(100);
      assertThat(entry.get("extra_state_count").asInt()).as(c.name()).isGreaterThan(20);
    }
  }
}
