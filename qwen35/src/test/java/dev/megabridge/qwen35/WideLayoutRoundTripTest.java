package dev.megabridge.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.CheckpointComparison;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tiny fixtures have 2 KV heads, so TP 4 and 8 cannot be tried on them. This test widens their head
 * counts (8 KV heads, 8 GDN key/value heads, 8 vision heads; random bf16 values with F32 {@code A_log} and
 * {@code linear_attn.norm.weight}) and round-trips TP 4 and 8 layouts bit for bit.
 */
class WideLayoutRoundTripTest {

  @TempDir
  Path temp;

  static Stream<Arguments> layouts() {
    return Stream.of(
        Arguments.of("qwen35_dense_vl", ParallelLayout.of(4, 2, 1, 1, 1)),
        Arguments.of("qwen35_dense_vl", ParallelLayout.of(8, 1, 1, 1, 1)),
        Arguments.of("qwen35_moe_vl", ParallelLayout.of(4, 2, 2, 4, 2)),
        Arguments.of("qwen35_moe_vl", ParallelLayout.of(8, 1, 1, 8, 1)),
        Arguments.of("qwen35_moe_vl_packed_bf16", ParallelLayout.of(8, 2, 1, 2, 4)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("layouts")
  void wideModelRoundTrips(String fixture, ParallelLayout layout) throws IOException {
    Path source = widen(Fixtures.tiny(fixture), temp.resolve("wide"));
    AutoBridge autoBridge = AutoBridge.discover();
    Importer.run(source, temp.resolve("shards"), new Importer.Options(layout, BridgeOptions.defaults(), Optional.empty(),
        false, 2), autoBridge, Progress.NONE);
    Exporter.run(temp.resolve("shards"), temp.resolve("exported"), new Exporter.Options(Optional.empty(),
        Optional.empty(), false), autoBridge, Progress.NONE);
    assertThat(CheckpointComparison.compare(source, temp.resolve("exported")).differences()).isEmpty();
  }

  /** Writes a widened copy of the fixture's config and a random checkpoint of the right shapes. */
  static Path widen(Path fixture, Path output) throws IOException {
    Files.createDirectories(output);
    ObjectNode config = HfConfig.load(fixture).raw().deepCopy();
    ObjectNode text = (ObjectNode) config.get("text_config");
    text.put("num_attention_heads", 16).put("num_key_value_heads", 8).put("head_dim", 16);
    text.put("linear_num_key_heads", 8).put("linear_num_value_heads", 8).put("linear_key_head_dim", 8)
        .put("linear_value_head_dim", 8);
    ObjectNode rope = (ObjectNode) text.get("rope_parameters");
    rope.putArray("mrope_section").add(1).add(1).add(0);
    ((ObjectNode) config.get("vision_config")).put("num_heads", 8);
    Files.writeString(output.resolve("config.json"), config.toPrettyString());
    BridgeModel model = AutoBridge.discover().fromConfig(HfConfig.load(output),
        Optional.of(new java.util.HashSet<>(perExpertOrPackedNames(fixture))), BridgeOptions.defaults());
    SplittableRandom random = new SplittableRandom(7);
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    for (HfTensorSpec spec : model.hfTensors()) {
      boolean f32 = spec.name().endsWith("linear_attn.A_log") || spec.name().endsWith("linear_attn.norm.weight");
      DType dtype = f32 ? DType.F32 : DType.BF16;
      byte[] bytes = new byte[Math.toIntExact(spec.shape().numel() * dtype.byteSize())];
      random.nextBytes(bytes);
      if (spec.name().endsWith("linear_attn.norm.weight")) {
        // Plain gammas near 1, as trained models have: the Megatron side stores gamma − 1 (spec §3.8), which
        // is exact in fp32 for gammas in [0.5, 2].
        MemorySegment values = MemorySegment.ofArray(bytes);
        for (long index = 0; index < spec.shape().numel(); index++) {
          values.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, index,
              (float) (0.5 + 1.5 * random.nextDouble()));
        }
      }
      entries.add(new SafetensorsWriter.Entry(spec.name(), Tensor.of(dtype, spec.shape(), MemorySegment.ofArray(bytes))));
    }
    SafetensorsWriter.writeFile(output.resolve("model.safetensors"), entries, bytes -> { });
    return output;
  }

  /** The fixture's tensor names, so the widened model keeps its expert layout (packed or per expert). */
  private static List<String> perExpertOrPackedNames(Path fixture) {
    try (var checkpoint = dev.megabridge.core.io.safetensors.SafetensorsCheckpoint.open(fixture)) {
      return checkpoint.names();
    }
  }
}
