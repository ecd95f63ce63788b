package dev.megabridge.core.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.error.UnsupportedModelException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** BridgeRegistry priorities and AutoBridge dispatch (spec §1.2–§1.3) with stand-in bridges. */
class BridgeDispatchTest {

  @TempDir
  Path temp;

  /** A bridge that records what it was bound to; binding returns null (no model needed here). */
  record FakeBridge(String name, Set<String> architectures, int priority, List<String> bound) implements ModelBridge {
    FakeBridge(String name, int priority, String... architectures) {
      this(name, Set.of(architectures), priority, new ArrayList<>());
    }

    @Override
    public BridgeModel bind(HfConfig config, String architecture, Optional<Set<String>> names, BridgeOptions options) {
      bound.add(architecture + (names.isPresent() ? " with weights" : " config only"));
      return null;
    }
  }

  private HfConfig config(String json) {
    return HfConfig.parse(temp.resolve("config.json"), json);
  }

  private Path folder(String name, String json) throws IOException {
    Path dir = Files.createDirectories(temp.resolve(name));
    Files.writeString(dir.resolve("config.json"), json);
    return dir;
  }

  @Test
  void equalPriorityClaimsAreAnError() {
    FakeBridge a = new FakeBridge("A", 0, "XForCausalLM");
    FakeBridge b = new FakeBridge("B", 0, "YForCausalLM", "XForCausalLM");
    assertThatThrownBy(() -> BridgeRegistry.of(List.of(a, b))).isInstanceOf(InternalException.class)
        .hasMessageContaining("A").hasMessageContaining("B").hasMessageContaining("XForCausalLM");
  }

  @Test
  void highestPriorityWinsWhateverTheDiscoveryOrder() {
    FakeBridge low1 = new FakeBridge("Low1", 0, "XForCausalLM");
    FakeBridge low2 = new FakeBridge("Low2", 0, "XForCausalLM");
    FakeBridge high = new FakeBridge("High", 5, "XForCausalLM");
    for (List<ModelBridge> order : List.<List<ModelBridge>>of(List.of(low1, low2, high), List.of(high, low1, low2),
        List.of(low1, high, low2))) {
      assertThat(BridgeRegistry.of(order).forArchitecture("XForCausalLM")).as(order.toString()).containsSame(high);
    }
    FakeBridge other = new FakeBridge("Other", 5, "XForCausalLM");
    assertThatThrownBy(() -> BridgeRegistry.of(List.of(low1, high, other))).isInstanceOf(InternalException.class);
  }

  @Test
  void supportedArchitecturesAreSorted() {
    BridgeRegistry registry = BridgeRegistry.of(List.of(new FakeBridge("A", 0, "ZForCausalLM", "AForCausalLM"),
        new FakeBridge("B", 0, "MForConditionalGeneration")));
    assertThat(registry.supportedArchitectures()).containsExactly("AForCausalLM", "MForConditionalGeneration",
        "ZForCausalLM");
    assertThat(registry.forArchitecture("Nope")).isEmpty();
  }

  @Test
  void dispatchTakesTheFirstArchitectureWithASupportedSuffix() {
    FakeBridge causal = new FakeBridge("Causal", 0, "XForCausalLM");
    FakeBridge vl = new FakeBridge("VL", 0, "XForConditionalGeneration");
    AutoBridge auto = new AutoBridge(BridgeRegistry.of(List.of(causal, vl)));
    assertThat(auto.chooseArchitecture(config("""
        {"architectures": ["XModel", "XForConditionalGeneration", "XForCausalLM"]}"""))).isEqualTo(
        "XForConditionalGeneration");
    // The first supported suffix decides even when it is not registered: no fallback to later entries.
    assertThatThrownBy(() -> auto.chooseArchitecture(config("""
        {"architectures": ["YForCausalLM", "XForCausalLM"]}"""))).isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining("'YForCausalLM'").hasMessageContaining("XForCausalLM")
        .hasMessageContaining("XForConditionalGeneration");
    auto.fromConfig(config("""
        {"architectures": ["XForCausalLM"], "model_type": "something_else"}"""), Optional.empty(),
        BridgeOptions.defaults());
    assertThat(causal.bound()).containsExactly("XForCausalLM config only");
  }

  @Test
  void modelTypeIsNeverUsedForDispatch() {
    AutoBridge auto = new AutoBridge(BridgeRegistry.of(List.of(new FakeBridge("X", 0, "XForCausalLM"))));
    assertThatThrownBy(() -> auto.chooseArchitecture(config("""
        {"model_type": "XForCausalLM"}"""))).isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining("architectures").hasMessageContaining("XForCausalLM");
    assertThatThrownBy(() -> auto.chooseArchitecture(config("""
        {"architectures": ["XModel", "XEncoder"], "model_type": "x"}"""))).isInstanceOf(UnsupportedModelException.class)
        .hasMessageContaining("suffix").hasMessageContaining("[XForCausalLM]");
  }

  @Test
  void canHandleNeverThrows() throws IOException {
    AutoBridge auto = new AutoBridge(BridgeRegistry.of(List.of(new FakeBridge("X", 0, "XForCausalLM"))));
    assertThat(auto.canHandle(folder("ok", "{\"architectures\": [\"XForCausalLM\"]}"))).isTrue();
    assertThat(auto.canHandle(folder("other", "{\"architectures\": [\"YForCausalLM\"]}"))).isFalse();
    assertThat(auto.canHandle(folder("broken", "{not json"))).isFalse();
    assertThat(auto.canHandle(temp.resolve("missing"))).isFalse();
    assertThat(auto.canHandle(folder("array", "[1, 2]"))).isFalse();
  }

  @Test
  void configOnlyFolderBindsWithoutTensorNames() throws IOException {
    FakeBridge bridge = new FakeBridge("X", 0, "XForCausalLM");
    AutoBridge auto = new AutoBridge(BridgeRegistry.of(List.of(bridge)));
    auto.fromHfPretrained(folder("cfg", "{\"architectures\": [\"XForCausalLM\"]}"), BridgeOptions.defaults());
    assertThat(bridge.bound()).containsExactly("XForCausalLM config only");
  }
}
