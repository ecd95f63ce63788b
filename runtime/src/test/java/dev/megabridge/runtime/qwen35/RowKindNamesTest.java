package dev.megabridge.runtime.qwen35;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.mapping.FusedExpertMapping;
import dev.megabridge.core.mapping.MappingRegistry;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.mapping.RowMapping;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The runtime's row-kind name list ({@link ModelWeights#ROW_KIND_ENDINGS}) must name exactly the 2-D weights
 * the bridge's mapping table splits along the input dimension (row-parallel and packed down projections): the HF
 * path and the Megatron-shard path then reduce the same layers in the same canonical order.
 */
class RowKindNamesTest {

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
    List<String> rowSplit = new ArrayList<>();
    for (dev.megabridge.core.spi.MegatronParam param : model.megatronParams(
        dev.megabridge.core.parallel.ParallelLayout.single())) {
      ParamMapping mapping = registry.megatronToHf(param.mappingName()).orElseThrow();
      boolean splitsInput = switch (mapping) {
        case RowMapping row -> true;
        case FusedExpertMapping fused -> true;
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
        assertThat(twoDimensional && ModelWeights.rowKind(name)).as(name).isEqualTo(expected);
      }
    }
  }
}
