package dev.megabridge.cli;

import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.EnvironmentException;
import dev.megabridge.core.io.TemporaryFolders;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
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
    commandLine.setExecutionExceptionHandler((exception, failed, parseResult) -> {
      int code = handle(exception, failed, parseResult);
      if (jsonRequested(parseResult)) {
        printJsonError(errorMessage(exception), code);
      }
      return code;
    });
    commandLine.setParameterExceptionHandler((exception, arguments) -> {
      CommandLine failed = exception.getCommandLine();
      PrintWriter err = failed.getErr();
      err.println("error: " + exception.getMessage());
      CommandLine.UnmatchedArgumentException.printSuggestions(exception, err);
      failed.usage(err);
      int code = BridgeException.ExitCode.BAD_ARGUMENTS.code();
      // The command line did not parse, so --json is looked for among the words before a "--".
      if (Arrays.asList(arguments).subList(0, endOfOptions(arguments)).contains("--json")) {
        printJsonError(exception.getMessage(), code);
      }
      return code;
    });
    return commandLine.execute(args);
  }

  /** Whether the command that ran (the innermost subcommand) was given {@code --json}. */
  private static boolean jsonRequested(CommandLine.ParseResult parseResult) {
    CommandLine.ParseResult innermost = parseResult;
    while (innermost.subcommand() != null) {
      innermost = innermost.subcommand();
    }
    return innermost.hasMatchedOption("--json");
  }

  private static int endOfOptions(String[] arguments) {
    int end = Arrays.asList(arguments).indexOf("--");
    return end < 0 ? arguments.length : end;
  }

  /** The message {@link #handle} prints for {@code exception}, without the "error: " prefix. */
  private static String errorMessage(Exception exception) {
    return switch (exception) {
      case BridgeException bridge -> oneLine(bridge.getMessage());
      case UncheckedIOException io -> oneLine(io.getMessage());
      default -> "internal error: " + exception;
    };
  }

  /** With {@code --json}, a failure is also a JSON object on stdout: {@code {"error": ..., "exit_code": ...}}. */
  private static void printJsonError(String message, int exitCode) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("error", message);
    error.put("exit_code", exitCode);
    Output.json(error);
    System.out.flush();
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
