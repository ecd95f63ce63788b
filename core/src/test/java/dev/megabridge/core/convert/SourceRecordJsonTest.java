package dev.megabridge.core.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.ShardsManifest.LocalTensor;
import dev.megabridge.core.convert.ShardsManifest.RankManifest;
import dev.megabridge.core.convert.torchdist.TorchDistSidecar;
import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Both records of a converted checkpoint read back what they wrote and fail closed, naming the file. */
class SourceRecordJsonTest {

  @TempDir
  Path temp;

  private static final ParallelLayout LAYOUT =
      new ParallelLayout(2, 2, 1, 4, 2, Optional.of(3), Optional.empty());
  private static final BridgeOptions OPTIONS = new BridgeOptions(MtpNaming.LEGACY, ExpertNaming.SEQUENTIAL);
  private static final List<HfTensorInfo> HF_TENSORS = List.of(
      new HfTensorInfo("model.embed_tokens.weight", DType.BF16, Shape.of(16, 8), "model-00001-of-00002.safetensors"),
      new HfTensorInfo("model.layers.0.linear_attn.A_log", DType.F32, Shape.of(4), "model-00002-of-00002.safetensors"));

  private static ObjectNode hfConfig() {
    ObjectNode config = HfConfig.JSON.createObjectNode();
    config.putArray("architectures").add("Qwen3_5MoeForConditionalGeneration");
    config.put("model_type", "qwen3_5_moe");
    return config;
  }

  private ShardsManifest manifest() {
    return new ShardsManifest(ShardsManifest.FORMAT_VERSION, "Qwen3_5MoeForConditionalGeneration", "Qwen35VLMoEBridge",
        LAYOUT, OPTIONS, hfConfig(), List.of("config.json", "tokenizer.json"), HF_TENSORS,
        HfConfig.JSON.createObjectNode().put("num_layers", 4),
        List.of(new RankManifest("mp_rank_01_000_003", 1, 0, 3,
            List.of(new LocalTensor("embedding.word_embeddings.weight", DType.BF16, Shape.of(8, 8))))));
  }

  private TorchDistSidecar sidecar() {
    return new TorchDistSidecar("Qwen3_5MoeForConditionalGeneration", "Qwen35VLMoEBridge", LAYOUT, OPTIONS, hfConfig(),
        List.of("config.json"), HF_TENSORS);
  }

  @Test
  void manifestReadsBackWhatItWrote() throws IOException {
    ShardsManifest written = manifest();
    Files.writeString(temp.resolve(ShardsManifest.FILE_NAME), written.toJson());
    ShardsManifest read = ShardsManifest.read(temp);
    assertThat(read).isEqualTo(written);
    assertThat(read.config(temp).architectures()).containsExactly("Qwen3_5MoeForConditionalGeneration");
  }

  @Test
  void sidecarReadsBackWhatItWrote() throws IOException {
    TorchDistSidecar written = sidecar();
    Files.writeString(temp.resolve(TorchDistSidecar.FILE_NAME), written.toJson());
    assertThat(TorchDistSidecar.read(temp)).contains(written);
  }

  @Test
  void manifestDefectsAreErrorsNamingTheFileAndTheKey() throws IOException {
    Path file = temp.resolve(ShardsManifest.FILE_NAME);
    String json = manifest().toJson();
    assertManifestFails(json, text -> text.replaceFirst(",\\s*\"file\" : \"model-00001-of-00002.safetensors\"", ""),
        "hf_tensors[]", "file");
    assertManifestFails(json, text -> text.replace("\"dtype\" : \"F32\"", "\"dtype\" : \"F4\""), "unknown dtype 'F4'");
    assertManifestFails(json, text -> text.replace("\"etp\" : 2,", ""), "etp");
    assertManifestFails(json, text -> text.replace("\"mtp_naming\" : \"legacy\",", ""), "mtp_naming");
    assertManifestFails(json, text -> text.replaceFirst("\"hf_tensors\" : \\[", "\"hf_tensors\" : {\"x\": ["),
        "not valid JSON");
    Files.writeString(file, "[1, 2]");
    assertThatThrownBy(() -> ShardsManifest.read(temp)).isInstanceOf(BridgeException.class)
        .hasMessageContaining(file.toString()).hasMessageContaining("not a JSON object");
  }

  @Test
  void sidecarWithAWrongTypeIsAnErrorNamingTheFile() throws IOException {
    Path file = temp.resolve(TorchDistSidecar.FILE_NAME);
    String json = sidecar().toJson();
    String broken = json.substring(0, json.indexOf("\"hf_tensors\"")) + "\"hf_tensors\" : 3\n}\n";
    Files.writeString(file, broken);
    assertThatThrownBy(() -> TorchDistSidecar.read(temp)).isInstanceOf(BridgeException.class)
        .hasMessageContaining(file.toString()).hasMessageContaining("'hf_tensors' must be a list");
  }

  private void assertManifestFails(String json, UnaryOperator<String> edit, String... expected) throws IOException {
    String broken = edit.apply(json);
    assertThat(broken).as("the edit must change the JSON").isNotEqualTo(json);
    Files.writeString(temp.resolve(ShardsManifest.FILE_NAME), broken);
    assertThatThrownBy(() -> ShardsManifest.read(temp)).isInstanceOf(BridgeException.class)
        .hasMessageContaining(temp.resolve(ShardsManifest.FILE_NAME).toString())
        .hasMessageContainingAll(expected);
  }
}
