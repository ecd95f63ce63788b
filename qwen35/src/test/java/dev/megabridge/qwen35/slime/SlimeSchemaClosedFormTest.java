package dev.megabridge.qwen35.slime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.VocabPadding;
import dev.megabridge.qwen35.Fixtures;
import dev.megabridge.qwen35.slime.SlimeClosedForm.Deviation;
import dev.megabridge.qwen35.slime.SlimeClosedForm.Layout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The slime-native schema in closed form (issue 14, "Proof"): each fixture is imported to slime-schema shards at
 * several layouts, and every tensor of every rank must equal, bit for bit, the tensor {@link SlimeClosedForm}
 * computes from the HF folder with the rows of slime-native-schema §2.2–§2.8 and the sharding of §2.1, written
 * from the spec without the mapping tables; each rank must hold exactly the spec's names, none more, none less.
 */
class SlimeSchemaClosedFormTest {

  private static final AutoBridge AUTO_BRIDGE = AutoBridge.discover();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> FIXTURES = List.of("qwen35_dense_vl", "qwen35_dense_vl_bf16",
      "qwen35_dense_vl_bf16_sharded", "qwen35_moe_vl", "qwen35_moe_vl_bf16", "qwen35_moe_vl_packed_bf16");

  @TempDir
  Path temp;

  /** How the HF source is derived from a fixture. */
  enum Source {
    /** The fixture as it is. */
    FIXTURE,
    /**
     * Vocabulary cut to its first 600 rows: the default padding gives 640 rows at TP 1 and 768 at TP 2 (§4.3), so
     * the rows depend on the target TP.
     */
    VOCAB_600,
    /** Tied embeddings: no {@code lm_head.weight}, both tie flags set. */
    TIED,
    /** The text-only causal LM: no {@code language_model.} prefix, no vision tower (§2.2). */
    TEXT_ONLY
  }

  /** The vocabulary option: {@code default} (Megatron's multiple of 128·t), {@code none}, or a row count. */
  record Vocab(String option) {
    VocabPadding padding() {
      return switch (option) {
        case "default" -> VocabPadding.megatron();
        case "none" -> VocabPadding.none();
        default -> new VocabPadding.Exactly(Long.parseLong(option));
      };
    }

    long rows(SlimeClosedForm closedForm, int tp) {
      return switch (option) {
        case "default" -> closedForm.megatronPaddedVocab(tp);
        case "none" -> closedForm.vocab();
        default -> Long.parseLong(option);
      };
    }

    @Override
    public String toString() {
      return "vocab " + option;
    }
  }

  static Stream<Arguments> cases() {
    Vocab standard = new Vocab("default");
    List<Arguments> cases = new ArrayList<>();
    for (String model : FIXTURES) {
      List<ParallelLayout> layouts = model.contains("moe")
          ? List.of(ParallelLayout.of(1, 1, 1, 1, 1), ParallelLayout.of(2, 1, 1, 2, 2),
              ParallelLayout.of(2, 2, 1, 2, 1), ParallelLayout.of(1, 2, 1, 2, 1))
          : List.of(ParallelLayout.of(1, 1, 1, 1, 1), ParallelLayout.of(2, 1, 1, 1, 1),
              ParallelLayout.of(2, 2, 1, 1, 1), ParallelLayout.of(1, 2, 1, 1, 1));
      layouts.forEach(layout -> cases.add(Arguments.of(model, Source.FIXTURE, layout, standard)));
    }
    cases.add(Arguments.of("qwen35_dense_vl_bf16", Source.FIXTURE, ParallelLayout.of(2, 1, 1, 1, 1),
        new Vocab("1100")));
    cases.add(Arguments.of("qwen35_moe_vl_packed_bf16", Source.FIXTURE, ParallelLayout.of(2, 2, 1, 2, 2),
        new Vocab("1280")));
    cases.add(Arguments.of("qwen35_dense_vl_bf16", Source.VOCAB_600, ParallelLayout.of(1, 1, 1, 1, 1), standard));
    cases.add(Arguments.of("qwen35_dense_vl_bf16", Source.VOCAB_600, ParallelLayout.of(2, 2, 1, 1, 1), standard));
    cases.add(Arguments.of("qwen35_moe_vl_bf16", Source.VOCAB_600, ParallelLayout.of(2, 1, 1, 2, 1),
        new Vocab("none")));
    cases.add(Arguments.of("qwen35_dense_vl_bf16", Source.TIED, ParallelLayout.of(2, 1, 1, 1, 1), standard));
    cases.add(Arguments.of("qwen35_moe_vl_packed_bf16", Source.TIED, ParallelLayout.of(2, 2, 1, 2, 2), standard));
    cases.add(Arguments.of("qwen35_dense_vl", Source.TEXT_ONLY, ParallelLayout.of(2, 2, 1, 1, 1), standard));
    cases.add(Arguments.of("qwen35_moe_vl_packed_bf16", Source.TEXT_ONLY, ParallelLayout.of(2, 2, 1, 2, 2),
        new Vocab("1280")));
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @MethodSource("cases")
  void everyTensorOfEveryRankIsTheSpecsClosedForm(String model, Source source, ParallelLayout layout, Vocab vocab) {
    Path hf = source(model, source);
    Path shards = importSlime(hf, layout, vocab.padding());
    SlimeClosedForm closedForm = new SlimeClosedForm(hf, Deviation.NONE);
    assertThat(mismatches(shards, closedForm, layout, vocab.rows(closedForm, layout.tp()))).isEmpty();
  }

  /**
   * The comparison can fail: with the Megatron-Bridge schema's −1 on the Gated DeltaNet norm in the expectation
   * (slime-native-schema §3), exactly the six GDN {@code norm.weight} tensors of each rank differ.
   */
  @Test
  void comparisonNoticesTheMegatronBridgeNormShift() {
    Path hf = Fixtures.tiny("qwen35_dense_vl_bf16");
    ParallelLayout layout = ParallelLayout.of(2, 1, 1, 1, 1);
    Path shards = importSlime(hf, layout, VocabPadding.megatron());
    SlimeClosedForm shifted = new SlimeClosedForm(hf, new Deviation(-1f));
    List<String> mismatches = mismatches(shards, shifted, layout, shifted.megatronPaddedVocab(2));
    assertThat(mismatches).hasSize(12).allMatch(line -> line.contains(".self_attention.linear_attn.norm.weight:"));
  }

  private Path source(String model, Source source) {
    Path fixture = Fixtures.tiny(model);
    return switch (source) {
      case FIXTURE -> fixture;
      case VOCAB_600 -> SlimeSources.vocabulary(fixture, temp.resolve("vocab-600"), 600);
      case TIED -> SlimeSources.tied(fixture, temp.resolve("tied"));
      case TEXT_ONLY -> SlimeSources.textOnly(fixture, temp.resolve("text-only"));
    };
  }

  private Path importSlime(Path hf, ParallelLayout layout, VocabPadding padding) {
    Path shards = temp.resolve("shards");
    BridgeOptions options = BridgeOptions.forSchema(Schema.SLIME).withVocabPadding(padding);
    Importer.run(hf, shards, new Importer.Options(layout, options, Optional.empty(), false, 2), AUTO_BRIDGE,
        Progress.NONE);
    return shards;
  }

  /**
   * One line per difference between the shards folder and the closed form (a rank count, a missing or unexpected
   * name, a tensor of another dtype, shape or value), naming the rank folder and the tensor; empty when all agree.
   */
  private static List<String> mismatches(Path shards, SlimeClosedForm closedForm, ParallelLayout layout, long paddedVocab) {
    JsonNode manifest;
    try {
      manifest = JSON.readTree(shards.resolve("megabridge.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<String> out = new ArrayList<>();
    if (!manifest.path("schema").asText().equals("slime")) {
      out.add("megabridge.json: schema " + manifest.path("schema"));
    }
    Layout target = new Layout(layout.tp(), layout.pp(), layout.ep(), layout.etp(), paddedVocab);
    JsonNode ranks = manifest.get("ranks");
    if (ranks.size() != layout.tp() * layout.pp() * layout.ep()) {
      out.add("megabridge.json: " + ranks.size() + " ranks for " + layout);
    }
    for (JsonNode rank : ranks) {
      String directory = rank.get("directory").asText();
      Map<String, HostTensor> expected = closedForm.rank(target, rank.get("tp").asInt(), rank.get("pp").asInt(),
          rank.get("ep").asInt());
      Path file = shards.resolve(directory).resolve(SafetensorsCheckpoint.SINGLE_FILE);
      try (SafetensorsCheckpoint actual = SafetensorsCheckpoint.openFiles(shards, List.of(file))) {
        TreeSet<String> missing = new TreeSet<>(expected.keySet());
        actual.names().forEach(missing::remove);
        TreeSet<String> unexpected = new TreeSet<>(actual.names());
        unexpected.removeAll(expected.keySet());
        missing.forEach(name -> out.add(directory + ": missing " + name + " " + expected.get(name)));
        unexpected.forEach(name -> out.add(directory + ": unexpected " + name));
        for (Map.Entry<String, HostTensor> entry : expected.entrySet()) {
          if (actual.contains(entry.getKey())) {
            HostTensor written = HostTensor.of(actual.tensor(entry.getKey()));
            HostTensor wanted = entry.getValue();
            if (!written.sameAs(wanted)) {
              boolean sameLayout = written.toString().equals(wanted.toString());
              out.add(directory + ": " + entry.getKey() + ": expected " + wanted + ", written " + written
                  + (sameLayout ? " with other values" : ""));
            }
          }
        }
      }
    }
    return out;
  }
}
