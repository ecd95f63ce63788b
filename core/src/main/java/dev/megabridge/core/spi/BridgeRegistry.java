package dev.megabridge.core.spi;

import dev.megabridge.core.error.InternalException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * Architecture name → bridge, built from the bridges found on the class path. Two bridges claiming one
 * architecture with equal priority is an error at start.
 */
public final class BridgeRegistry {
  private final Map<String, ModelBridge> byArchitecture;

  private BridgeRegistry(Map<String, ModelBridge> byArchitecture) {
    this.byArchitecture = Collections.unmodifiableMap(byArchitecture);
  }

  /** The bridges registered through {@link ServiceLoader}. */
  public static BridgeRegistry discover() {
    List<ModelBridge> bridges = new ArrayList<>();
    ServiceLoader.load(ModelBridge.class, BridgeRegistry.class.getClassLoader()).forEach(bridges::add);
    return of(bridges);
  }

  public static BridgeRegistry of(List<ModelBridge> bridges) {
    // Decide on the highest priority per architecture first, so the result (and whether two bridges
    // conflict) does not depend on discovery order: only a tie at the winning priority is an error.
    Map<String, ModelBridge> byArchitecture = new TreeMap<>();
    Map<String, ModelBridge> tied = new TreeMap<>();
    for (ModelBridge bridge : bridges) {
      for (String architecture : bridge.architectures()) {
        ModelBridge previous = byArchitecture.get(architecture);
        if (previous == null || bridge.priority() > previous.priority()) {
          byArchitecture.put(architecture, bridge);
          tied.remove(architecture);
        } else if (bridge.priority() == previous.priority()) {
          tied.putIfAbsent(architecture, bridge);
        }
      }
    }
    for (Map.Entry<String, ModelBridge> tie : tied.entrySet()) {
      ModelBridge winner = byArchitecture.get(tie.getKey());
      throw new InternalException("bridges " + winner.name() + " and " + tie.getValue().name()
          + " both claim architecture " + tie.getKey() + " with priority " + winner.priority());
    }
    return new BridgeRegistry(byArchitecture);
  }

  public Optional<ModelBridge> forArchitecture(String architecture) {
    return Optional.ofNullable(byArchitecture.get(architecture));
  }

  /** Sorted architecture names. */
  public List<String> supportedArchitectures() {
    return List.copyOf(byArchitecture.keySet());
  }
}
