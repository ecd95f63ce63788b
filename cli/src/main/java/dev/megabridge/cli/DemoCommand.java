package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The main job on the embedded tiny Qwen3.5-VL checkpoints: inspect each one, convert it to Megatron shards
 * (TP 2, PP 2, EP 2 for MoE), export it back and check the result bit for bit.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Inspect the embedded tiny Qwen3.5-VL checkpoints, round-trip each through Megatron shards "
        + "(TP 2, PP 2, EP 2) and report a table.")
public final class DemoCommand implements Callable<Integer> {

  static final List<String> MODELS = List.of("qwen35_dense_vl", "qwen35_dense_vl_bf16", "qwen35_dense_vl_bf16_sharded",
      "qwen35_moe_vl", "qwen35_moe_vl_bf16", "qwen35_moe_vl_packed_bf16");

  @Option(names = "--fixtures", description = "Folder holding the tiny checkpoints (default: <repo>/fixtures/qwen35-tiny).")
  Path fixtures;

  @Mixin
  CommonOptions common;

  @Override
  public Integer call() {
    Path root = fixtures != null ? fixtures : defaultFixtures();
    List<Map<String, Object>> rows = new ArrayList<>();
    for (String name : MODELS) {
      Path model = root.resolve(name);
      Map<String, Object> inspected = InspectCommand.inspectHf(model, LayoutOptions.of(1, 1, 1));
      LayoutOptions layout = LayoutOptions.of(2, 2, String.valueOf(inspected.get("architecture")).contains("Moe") ? 2 : 1);
      CommonOptions quiet = new CommonOptions();
      quiet.quiet = true;
      Map<String, Object> roundTrip = RoundTripCommand.run(model, layout, quiet);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("model", name);
      row.put("architecture", inspected.get("architecture"));
      row.put("bridge", inspected.get("bridge"));
      row.put("layer_pattern", String.valueOf(inspected.get("layer_pattern")).split(" ")[0]);
      row.put("tensors", inspected.get("tensors"));
      row.put("bytes", inspected.get("bytes"));
      row.put("components", inspected.get("components"));
      row.put("expert_layout", inspected.getOrDefault("main_expert_layout", "-"));
      row.put("layout", roundTrip.get("layout"));
      row.put("ranks", roundTrip.get("ranks"));
      row.put("round_trip", Boolean.TRUE.equals(roundTrip.get("identical")) ? "bit-identical" : "DIFFERS");
      rows.add(row);
    }
    if (common.json) {
      Output.json(Map.of("command", "demo", "models", rows));
    } else {
      printTable(rows);
    }
    boolean allIdentical = rows.stream().allMatch(row -> row.get("round_trip").equals("bit-identical"));
    return allIdentical ? 0 : 1;
  }

  private static Path defaultFixtures() {
    String home = System.getProperty("megabridge.home", ".");
    Path path = Path.of(home, "fixtures", "qwen35-tiny");
    if (!Files.isDirectory(path)) {
      throw new UsageException("embedded fixtures not found at " + path.toAbsolutePath() + " (pass --fixtures DIR)");
    }
    return path;
  }

  @SuppressWarnings("unchecked")
  private static void printTable(List<Map<String, Object>> rows) {
    System.out.println("megabridge demo — embedded tiny Qwen3.5-VL checkpoints");
    System.out.println();
    for (Map<String, Object> row : rows) {
      System.out.printf(Locale.ROOT, "%s: %s via %s, layers %s, %s tensors, %s, experts %s%n", row.get("model"),
          row.get("architecture"), row.get("bridge"), row.get("layer_pattern"), row.get("tensors"),
          Output.bytes((Long) row.get("bytes")), row.get("expert_layout"));
      Map<String, Object> components = (Map<String, Object>) row.get("components");
      components.forEach((component, counts) -> {
        Map<String, Object> values = (Map<String, Object>) counts;
        System.out.printf(Locale.ROOT, "    %-15s %5s tensors %12s%n", component, values.get("tensors"),
            Output.bytes(((Number) values.get("bytes")).longValue()));
      });
    }
    System.out.println();
    System.out.printf(Locale.ROOT, "%-30s %-26s %6s  %s%n", "model", "layout", "ranks", "HF → Megatron → HF");
    for (Map<String, Object> row : rows) {
      System.out.printf(Locale.ROOT, "%-30s %-26s %6s  %s%n", row.get("model"), row.get("layout"), row.get("ranks"),
          row.get("round_trip"));
    }
  }
}
