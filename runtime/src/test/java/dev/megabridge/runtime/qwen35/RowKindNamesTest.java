package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.mapping.MappingRegistry;
import dev.megabridge.core.mapping.PackedExpertMapping.Projection;
import dev.megabridge.core.mapping.PackedExpertMapping;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.mapping.RowMapping;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.qwen35.Qwen35Config;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link RowKinds}, read off the mapping table, names exactly the 2-D weights the bridge's table splits along the
 * input dimension (row-parallel and packed down projections), and those are the layers docs/model.md §9.4 lists:
 * attention {@code o_proj}, GDN {@code out_proj}, MLP / shared-expert / expert {@code down_proj} (per-expert or packed),
 * vision {@code attn.proj}, {@code mlp.linear_fc2} and {@code merger.linear_fc2}, and their MTP equivalents.
 */
class RowKindNamesTest {

  /** The row-kind layers as docs/model.md §9.4 lists them, independently of the table. */
  private static final List<String> LISTED_ENDINGS = List.of(".o_proj.weight", ".out_proj.weight", ".down_proj.weight",
      ".experts.down_proj", ".attn.proj.weight", ".linear_fc2.weight");

  @ParameterizedTest
  @ValueSource(strings = {"qwen35_dense_vl", "qwen35_moe_vl", "qwen35_moe_vl_packed_bf16"})
  void rowKindNamesAgreeWithTheMappingTable(String fixture) {
    Set<String> names;
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(Fixtures.model(fixture))) {
      names = new LinkedHashSet<>(checkpoint.names());
    }
    BridgeModel model = new AutoBridge(dev.megabridge.core.spi.BridgeRegistry.discover())
        .fromHfPretrained(Fixtures.model(fixture), BridgeOptions.defaults());
    MappingRegistry registry = model.registry();
    HfConfig config = HfConfig.load(Fixtures.model(fixture));
    RowKinds rowKinds = RowKinds.of(Qwen35Config.parse(config, config.architectures().getFirst()));
    List<String> rowSplit = new ArrayList<>();
    for (dev.megabridge.core.spi.MegatronParam param : model.megatronParams(
        dev.megabridge.core.parallel.ParallelLayout.single())) {
      ParamMapping mapping = registry.megatronToHf(param.mappingName()).orElseThrow();
      boolean splitsInput = switch (mapping) {
        case RowMapping row -> true;
        case PackedExpertMapping packed when packed.projection() == Projection.DOWN -> true;
        default -> false;
      };
      if (splitsInput) {
        rowSplit.addAll(mapping.hfParams().values());
      }
    }
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(Fixtures.model(fixture))) {
      for (String name : names) {
        boolean twoDimensional = checkpoint.shape(name).rank() >= 2;
        boolean expected = twoDimensional && rowSplit.contains(name);
        assertThat(twoDimensional && rowKinds.contains(name)).as(name).isEqualTo(expected);
        assertThat(twoDimensional && LISTED_ENDINGS.stream().anyMatch(name::endsWith)).as(name).isEqualTo(expected);
      }
    }
  }
}
