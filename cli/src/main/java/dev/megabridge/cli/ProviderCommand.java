package dev.megabridge.cli;

import com.fasterxml.jackson.annotation.JsonValue;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.report.CommandReport;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.report.ReportJson;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import java.nio.file.Path;
import java.util.ArrayList;
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
    Map<String, Object> provider = model.provider();
    List<String> arguments = new ArrayList<>(model.megatronArgs());
    if (!layout.isDefault()) {
      ParallelLayout parallel = layout.layout();
      // Fails with the dimension the layout does not divide, or the stage the layers do not fit.
      model.validateLayout(parallel);
      model.megatronParams(parallel);
      provider.putAll(parallel.providerFields());
      arguments.addAll(parallel.megatronArguments());
    }
    Output.print(common, chosen == Choices.ProviderFormat.JSON ? new Provider(provider)
        : new CommandReport("provider", new MegatronArguments(chosen.spelling, arguments)));
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

  /** The Megatron model provider: its fields are the JSON object, and JSON is also its text form. */
  record Provider(@JsonValue Map<String, Object> fields) implements Report {
    @Override
    public String describe() {
      return ReportJson.write(fields);
    }
  }

  /** Megatron-LM's command-line arguments for the model; the text form is the command line. */
  record MegatronArguments(String format, List<String> arguments) implements Report {
    @Override
    public String describe() {
      return String.join(" ", arguments);
    }
  }
}
