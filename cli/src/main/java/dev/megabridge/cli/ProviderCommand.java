package dev.megabridge.cli;

import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.error.UsageException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Prints the Megatron model provider or the Megatron-LM arguments for a model folder. */
@Command(name = "provider", mixinStandardHelpOptions = true,
    description = "Print the Megatron model provider (json) or Megatron-LM command-line arguments "
        + "(megatron-args) for an HF folder; a folder holding only config.json is enough.")
public final class ProviderCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder (config.json, weights optional).")
  Path directory;

  @Option(names = "--format", defaultValue = "json", description = "json or megatron-args (default ${DEFAULT-VALUE}).")
  String format;

  @Mixin
  CommonOptions common;

  @Mixin
  LayoutOptions layout;

  @Override
  public Integer call() {
    Output.existingDirectory(directory, "folder");
    BridgeModel model = AutoBridge.discover().fromHfPretrained(directory, layout.bridgeOptions());
    switch (format) {
      case "json" -> Output.json(model.provider());
      case "megatron-args" -> System.out.println(String.join(" ", model.megatronArgs()));
      default -> throw new UsageException("--format must be json or megatron-args, got '" + format + "'");
    }
    return 0;
  }
}
