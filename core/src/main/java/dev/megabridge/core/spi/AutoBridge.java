package dev.megabridge.core.spi;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.UnsupportedModelException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Picks a bridge for a Hugging Face folder as Megatron-Bridge does (docs/mappings.md §4.1): the first entry of
 * {@code architectures} that ends with a supported suffix, looked up by exact name; {@code model_type} is
 * never consulted.
 */
public final class AutoBridge {

  /** Architecture suffixes AutoBridge accepts at all (docs/mappings.md §4.1). */
  public static final List<String> SUPPORTED_SUFFIXES = List.of("ForCausalLM", "ForConditionalGeneration",
      "NemotronH_Nano_VL_V2", "NemotronH_Nano_Omni_Reasoning_V3", "NemotronH_Super_Omni_Reasoning_V3",
      "Qwen2_5OmniModel", "NemotronLabsDiffusionModel", "LLaDAModelLM", "ForMaskedLM", "ForTokenClassification");

  private final BridgeRegistry registry;

  public AutoBridge(BridgeRegistry registry) {
    this.registry = registry;
  }

  public static AutoBridge discover() {
    return new AutoBridge(BridgeRegistry.discover());
  }

  public List<String> supportedArchitectures() {
    return registry.supportedArchitectures();
  }

  /** The architecture that dispatch uses for {@code config}. */
  public String chooseArchitecture(HfConfig config) {
    if (config.architectures().isEmpty()) {
      throw new UnsupportedModelException(config.file() + ": 'architectures' is missing or empty; supported: "
          + supportedArchitectures());
    }
    Optional<String> candidate = config.architectures().stream()
        .filter(name -> SUPPORTED_SUFFIXES.stream().anyMatch(name::endsWith)).findFirst();
    if (candidate.isEmpty()) {
      throw new UnsupportedModelException(config.file() + ": no architecture in " + config.architectures()
          + " ends with a supported suffix " + SUPPORTED_SUFFIXES + "; supported: " + supportedArchitectures());
    }
    // auto_map["AutoModelForCausalLM"] overrides the architectures entry: its last dotted segment.
    Optional<String> autoMapped = config.top().section("auto_map")
        .flatMap(autoMap -> autoMap.optString("AutoModelForCausalLM"))
        .map(value -> value.substring(value.lastIndexOf('.') + 1));
    if (autoMapped.isPresent()) {
      candidate = autoMapped;
    }
    if (registry.forArchitecture(candidate.get()).isEmpty()) {
      throw new UnsupportedModelException(config.file() + ": architecture '" + candidate.get()
          + "' is not supported; supported: " + supportedArchitectures());
    }
    return candidate.get();
  }

  /**
   * Binds the chosen bridge to the folder {@code directory}: config plus, when weights are present, their
   * tensor names (layout detection). A config-only folder works for provider and planning.
   */
  public BridgeModel fromHfPretrained(Path directory, BridgeOptions options) {
    HfConfig config = HfConfig.load(directory);
    Optional<Set<String>> names = Optional.empty();
    if (SafetensorsCheckpoint.isPresent(directory)) {
      try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(directory)) {
        names = Optional.of(new LinkedHashSet<>(checkpoint.names()));
      }
    }
    return fromConfig(config, names, options);
  }

  public BridgeModel fromConfig(HfConfig config, Optional<Set<String>> tensorNames, BridgeOptions options) {
    String architecture = chooseArchitecture(config);
    ModelBridge bridge = registry.forArchitecture(architecture).orElseThrow();
    return bridge.bind(config, architecture, tensorNames, options);
  }

  /** Whether {@code directory} can be bridged; never throws. */
  public boolean canHandle(Path directory) {
    try {
      chooseArchitecture(HfConfig.load(directory));
      return true;
    } catch (BridgeException e) {
      return false;
    }
  }
}
