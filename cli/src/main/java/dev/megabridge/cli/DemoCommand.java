package dev.megabridge.cli;

import dev.megabridge.core.convert.Importer;
import dev.megabridge.core.convert.Inspection;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.RoundTrip;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.TemporaryFolders;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.report.CommandReport;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.runtime.qwen35.ForwardResult;
import dev.megabridge.runtime.qwen35.GridThw;
import dev.megabridge.runtime.qwen35.ImageInput;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The main job on the embedded tiny Qwen3.5-VL checkpoints: inspect each one, convert it to Megatron shards
 * (TP 2, PP 2; EP 2 and the default ETP = TP for MoE), export it back and check the result bit for bit, then run
 * the forward pass tensor-parallel from the shards on the reference {@code text} and {@code image} cases and compare
 * the logits (and MTP logits) with transformers' (fp32 weights: the fp32 references; bf16 weights: the
 * {@code bf16w.} ones).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Inspect the embedded tiny Qwen3.5-VL checkpoints, round-trip each through Megatron shards "
        + "(TP 2, PP 2, EP 2), run the forward pass tensor-parallel from the shards against the transformers "
        + "reference logits and report a table.")
public final class DemoCommand implements Callable<Integer> {

  /** Max |logits − transformers| allowed (fp32 activations; references of the weights' own dtype). */
  static final double LOGITS_TOLERANCE = 2e-4;

  static final List<String> MODELS = List.of("qwen35_dense_vl", "qwen35_dense_vl_bf16", "qwen35_dense_vl_bf16_sharded",
      "qwen35_moe_vl", "qwen35_moe_vl_bf16", "qwen35_moe_vl_packed_bf16");

  @Option(names = "--fixtures", description = "Folder holding the tiny checkpoints (default: <repo>/fixtures/qwen35-tiny).")
  Path fixtures;

  @Mixin
  CommonOptions common;

  /** One embedded checkpoint: what inspect finds, the two round trips, the forward from the shards. */
  record ModelResult(String model, String architecture, String bridge, String layerPattern, int tensors, long bytes,
      Map<String, Inspection.ComponentSize> components, String expertLayout, String layout, int ranks,
      String roundTrip, String slimeRoundTrip, ShardedForward forward) {

    boolean passed() {
      return roundTrip.equals(IDENTICAL) && slimeRoundTrip.equals(IDENTICAL)
          && forward.maxAbsError() <= LOGITS_TOLERANCE;
    }
  }

  /** The reference cases run tensor-parallel from the shards: the largest |logits − reference| and the time. */
  record ShardedForward(List<String> cases, String reference, double maxAbsError, double seconds) {}

  /** Every model's result; as text, each model's tensors per component, then the table of results. */
  record DemoReport(List<ModelResult> models) implements Report {

    @Override
    public String describe() {
      StringBuilder out = new StringBuilder("megabridge demo — embedded tiny Qwen3.5-VL checkpoints\n\n");
      for (ModelResult row : models) {
        out.append(String.format(Locale.ROOT, "%s: %s via %s, layers %s, %s tensors, %s, experts %s%n", row.model(),
            row.architecture(), row.bridge(), row.layerPattern(), row.tensors(), ByteSizes.format(row.bytes()),
            row.expertLayout()));
        row.components().forEach((component, size) -> out.append(String.format(Locale.ROOT,
            "    %-15s %5s tensors %12s%n", component, size.tensors(), ByteSizes.format(size.bytes()))));
      }
      out.append('\n').append(String.format(Locale.ROOT, "%-30s %-26s %6s  %-18s  %-18s  %s", "model", "layout",
          "ranks", "HF → Megatron → HF", "same, slime schema", "TP forward from shards: max |Δlogits| vs "
              + "transformers (text+image, logits+MTP)"));
      for (ModelResult row : models) {
        double error = row.forward().maxAbsError();
        out.append(String.format(Locale.ROOT, "%n%-30s %-26s %6s  %-18s  %-18s  %.2e %s (%s)", row.model(),
            row.layout(), row.ranks(), row.roundTrip(), row.slimeRoundTrip(), error,
            error <= LOGITS_TOLERANCE ? "ok" : "EXCEEDS 2e-4", row.forward().reference()));
      }
      return out.toString();
    }
  }

  private static final String IDENTICAL = "bit-identical";

  @Override
  public Integer call() {
    Path root = fixtures != null ? fixtures : defaultFixtures();
    List<ModelResult> rows = new ArrayList<>();
    for (String name : MODELS) {
      Path model = root.resolve(name);
      Inspection.Hf inspected = InspectCommand.inspectHf(model, LayoutOptions.of(1, 1, 1));
      Map<String, Object> facts = inspected.facts();
      boolean moe = facts.get("experts") instanceof Number experts && experts.intValue() > 0;
      LayoutOptions layout = LayoutOptions.of(2, 2, moe ? 2 : 1);
      CommonOptions quiet = new CommonOptions();
      quiet.quiet = true;
      RoundTrip.Summary roundTrip = RoundTripCommand.run(model, layout, quiet);
      RoundTrip.Summary slimeRoundTrip = RoundTripCommand.run(model, LayoutOptions.of(2, 2, moe ? 2 : 1)
          .withSchema(Schema.SLIME), quiet);
      rows.add(new ModelResult(name, (String) facts.get("architecture"), (String) facts.get("bridge"),
          (String) facts.get("layer_pattern"), inspected.tensors(), inspected.bytes(), inspected.components(),
          (String) facts.getOrDefault("main_expert_layout", "-"), roundTrip.layout(), roundTrip.ranks(),
          roundTrip.identical() ? IDENTICAL : "DIFFERS", slimeRoundTrip.identical() ? IDENTICAL : "DIFFERS",
          shardedForward(model, root.resolve("reference"), layout)));
    }
    Output.print(common, new CommandReport("demo", new DemoReport(rows)));
    return rows.stream().allMatch(ModelResult::passed) ? 0 : 1;
  }

  /**
   * Imports {@code model} with {@code layout} into a scratch folder, runs the reference cases tensor-parallel from
   * the shards and returns the largest |logits − reference| over the cases, logits and MTP logits.
   */
  static ShardedForward shardedForward(Path model, Path references, LayoutOptions layout) {
    String name = model.getFileName().toString();
    String referenceName = name.replaceFirst("_(packed_)?bf16(_sharded)?$", "");
    String prefix = name.contains("bf16") ? "bf16w." : "";
    TemporaryFolders.Registration registration = TemporaryFolders.scratch(TemporaryFolders.systemTemp(),
        "megabridge-demo-", "the demo's scratch folder");
    Path scratch = registration.folder();
    Path referenceDirectory = references.resolve(referenceName);
    try (SafetensorsCheckpoint reference = SafetensorsCheckpoint.openFiles(referenceDirectory,
        List.of(referenceDirectory.resolve("reference.safetensors")))) {
      Path shards = scratch.resolve("megatron");
      Importer.run(model, shards, new Importer.Options(layout.layout(), layout.bridgeOptions(), Optional.empty(), false,
          Runtime.getRuntime().availableProcessors()), AutoBridge.discover(), Progress.NONE);
      long start = System.nanoTime();
      double worst = 0;
      List<String> cases = List.of("text", "image");
      try (Qwen35Model sharded = Qwen35Model.load(shards)) {
        for (String caseName : cases) {
          long[] ids = longs(reference.tensor(caseName + ".input_ids"));
          Optional<ImageInput> image = caseName.equals("image") ? Optional.of(image(reference)) : Optional.empty();
          ForwardResult result = sharded.forward(ids, image);
          worst = Math.max(worst, maxAbsDifference(result.logits().data(),
              reference.tensor(prefix + caseName + ".logits").toFloatArray()));
          worst = Math.max(worst, maxAbsDifference(result.mtpLogits().orElseThrow().data(),
              reference.tensor(prefix + caseName + ".mtp.logits").toFloatArray()));
        }
      }
      return new ShardedForward(cases, referenceName + (prefix.isEmpty() ? " fp32" : " bf16 weights"), worst,
          (System.nanoTime() - start) / 1e9);
    } finally {
      registration.delete();
    }
  }

  private static long[] longs(StridedTensor tensor) {
    long[] values = new long[Math.toIntExact(tensor.numel())];
    for (int i = 0; i < values.length; i++) {
      values[i] = tensor.getLong(i);
    }
    return values;
  }

  private static ImageInput image(SafetensorsCheckpoint reference) {
    long[] grid = longs(reference.tensor("image.image_grid_thw"));
    List<GridThw> grids = new ArrayList<>();
    for (int i = 0; i + 2 < grid.length; i += 3) {
      grids.add(new GridThw((int) grid[i], (int) grid[i + 1], (int) grid[i + 2]));
    }
    StridedTensor pixels = reference.tensor("image.pixel_values");
    return new ImageInput(pixels.toFloatArray(), (int) pixels.shape().dim(1), grids);
  }

  private static double maxAbsDifference(float[] actual, float[] expected) {
    if (actual.length != expected.length) {
      return Double.POSITIVE_INFINITY;
    }
    double max = 0;
    for (int i = 0; i < actual.length; i++) {
      double difference = Math.abs((double) actual[i] - expected[i]);
      max = Double.isNaN(difference) ? Double.POSITIVE_INFINITY : Math.max(max, difference);
    }
    return max;
  }

  private static Path defaultFixtures() {
    String home = System.getProperty("megabridge.home", ".");
    Path path = Path.of(home, "fixtures", "qwen35-tiny");
    if (!Files.isDirectory(path)) {
      throw new UsageException("embedded fixtures not found at " + path.toAbsolutePath() + " (pass --fixtures DIR)");
    }
    return path;
  }
}
