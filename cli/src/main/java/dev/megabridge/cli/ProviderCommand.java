package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Prints the Megatron model provider or the Megatron-LM arguments for a model folder. */
@Command(name = "provider", mixinStandardHelpOptions = true,
    description = "Print the Megatron model provider (json) or Megatron-LM command-line arguments "
        + "(megatron-args; with --schema slime, the model arguments of slime's scripts/models/qwen3.5-*.sh) for an HF "
        + "folder; a folder holding only config.json is enough. With --tp/--pp/--vpp/--ep/"
        + "--etp/--pp-*-stage-layers the layout is checked against the model and its parallel sizes are added.")
public final class ProviderCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder (config.json, weights optional).")
  Path directory;

  @Option(names = "--format", converter = Choices.ProviderFormat.Converter.class,
      description = "json or megatron-args (default json; megatron-args with --schema slime, which has no provider).")
  Choices.ProviderFormat format;

  @Mixin
  CommonOptions common;

  @Mixin
  LayoutOptions layout;

  @Override
  public Integer call() {
    Output.existingDirectory(directory, "folder");
    layout.rejectNaming("provider (the provider and arguments do not depend on checkpoint key names)");
    BridgeOptions options = layout.bridgeOptions();
    Choices.ProviderFormat chosen = chosenFormat(options.schema());
    BridgeModel model = AutoBridge.discover().fromHfPretrained(directory, options);
    LinkedHashMap<String, Object> provider = model.provider();
    List<String> arguments = new ArrayList<>(model.megatronArgs());
    if (!layout.isDefault()) {
      ParallelLayout parallel = layout.layout();
      // Fails with the dimension the layout does not divide, or the stage the layers do not fit.
      model.validateLayout(parallel);
      model.megatronParams(parallel);
      provider.putAll(parallelFields(parallel));
      arguments.addAll(parallelArguments(parallel));
    }
    if (chosen == Choices.ProviderFormat.JSON) {
      Output.json(provider);
    } else if (common.json) {
      Map<String, Object> report = new LinkedHashMap<>();
      report.put("command", "provider");
      report.put("format", chosen.spelling);
      report.put("arguments", arguments);
      Output.json(report);
    } else {
      System.out.println(String.join(" ", arguments));
    }
    return 0;
  }

  /**
   * The format asked for, else json for the Megatron-Bridge schema and megatron-args for slime's: slime builds its
   * model from Megatron-LM arguments ({@code --spec} + flags, docs/mappings.md §6), there is no Megatron-Bridge
   * provider to print, so {@code --format json} with {@code --schema slime} is refused rather than answered with a
   * provider slime never reads.
   */
  private Choices.ProviderFormat chosenFormat(Schema schema) {
    if (format == null) {
      return schema == Schema.SLIME ? Choices.ProviderFormat.MEGATRON_ARGS : Choices.ProviderFormat.JSON;
    }
    if (format == Choices.ProviderFormat.JSON && schema == Schema.SLIME) {
      throw new UsageException("--format json --schema slime: slime builds its model from Megatron-LM arguments, "
          + "not from a Megatron-Bridge model provider; use --format megatron-args (with --json for a JSON object)");
    }
    return format;
  }

  /** The provider's parallelism fields (Megatron-core TransformerConfig names). */
  static Map<String, Object> parallelFields(ParallelLayout layout) {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("tensor_model_parallel_size", layout.tp());
    fields.put("pipeline_model_parallel_size", layout.pp());
    fields.put("virtual_pipeline_model_parallel_size", layout.vpp() > 1 ? layout.vpp() : null);
    fields.put("expert_model_parallel_size", layout.ep());
    fields.put("expert_tensor_parallel_size", layout.etp());
    layout.firstStageLayers().ifPresent(layers -> fields.put("num_layers_in_first_pipeline_stage", layers));
    layout.lastStageLayers().ifPresent(layers -> fields.put("num_layers_in_last_pipeline_stage", layers));
    return fields;
  }

  /** The Megatron-LM arguments of the same layout. */
  static List<String> parallelArguments(ParallelLayout layout) {
    List<String> arguments = new ArrayList<>(List.of("--tensor-model-parallel-size", Integer.toString(layout.tp()),
        "--pipeline-model-parallel-size", Integer.toString(layout.pp())));
    if (layout.vpp() > 1) {
      arguments.addAll(List.of("--num-virtual-stages-per-pipeline-rank", Integer.toString(layout.vpp())));
    }
    arguments.addAll(List.of("--expert-model-parallel-size", Integer.toString(layout.ep()),
        "--expert-tensor-parallel-size", Integer.toString(layout.etp())));
    layout.firstStageLayers().ifPresent(layers -> arguments.addAll(List.of("--decoder-first-pipeline-num-layers",
        Integer.toString(layers))));
    layout.lastStageLayers().ifPresent(layers -> arguments.addAll(List.of("--decoder-last-pipeline-num-layers",
        Integer.toString(layers))));
    return arguments;
  }
}
