package dev.megabridge.cli;

import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.EnvironmentException;
import dev.megabridge.core.io.TemporaryFolders;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of the {@code megabridge} command. Exit codes: 0 ok, 1 internal error, 2 bad arguments, 3 bad input
 * data, 4 environment (disk full, read-only or busy output: the operating system's reason is printed).
 */
@Command(name = "megabridge", mixinStandardHelpOptions = true, version = "megabridge 0.1.0",
    description = "CPU-only bridge between Hugging Face Qwen3.5-VL checkpoints and Megatron-LM layouts.",
    subcommands = {DemoCommand.class, InspectCommand.class, ProviderCommand.class, ImportCommand.class,
        ExportCommand.class, ConvertCommand.class, RoundTripCommand.class, StreamExportCommand.class,
        ForwardCommand.class, GenerateCommand.class, BenchCommand.class})
public final class Main implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "missing command");
  }

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the command line and returns the exit code (for tests). */
  public static int execute(String... args) {
    TemporaryFolders.reportTo(message -> System.err.println(message));
    CommandLine commandLine = new CommandLine(new Main());
    commandLine.setExecutionExceptionHandler(Main::handle);
    commandLine.setParameterExceptionHandler((exception, arguments) -> {
      CommandLine failed = exception.getCommandLine();
      PrintWriter err = failed.getErr();
      err.println("error: " + exception.getMessage());
      CommandLine.UnmatchedArgumentException.printSuggestions(exception, err);
      failed.usage(err);
      return BridgeException.ExitCode.BAD_ARGUMENTS.code();
    });
    return commandLine.execute(args);
  }

  private static int handle(Exception exception, CommandLine commandLine, CommandLine.ParseResult parseResult) {
    boolean verbose = parseResult.subcommand() != null && parseResult.subcommand().hasMatchedOption("--verbose");
    PrintWriter err = commandLine.getErr();
    if (verbose) {
      exception.printStackTrace(err);
    }
    err.flush();
    return switch (exception) {
      case BridgeException bridge -> {
        err.println("error: " + oneLine(bridge.getMessage()));
        yield bridge.exitCode().code();
      }
      case UncheckedIOException io when EnvironmentException.describe(io).isPresent() -> {
        err.println("error: " + EnvironmentException.describe(io).get());
        yield BridgeException.ExitCode.ENVIRONMENT.code();
      }
      case UncheckedIOException io -> {
        err.println("error: " + oneLine(io.getMessage()));
        yield BridgeException.ExitCode.INTERNAL.code();
      }
      default -> {
        err.println("internal error: " + exception + (verbose ? "" : " (run with --verbose for the stack trace)"));
        yield BridgeException.ExitCode.INTERNAL.code();
      }
    };
  }

  /** The first line plus, for multi-line lists, the rest indented; never a stack trace. */
  private static String oneLine(String message) {
    return message == null ? "(no message)" : message;
  }
}
