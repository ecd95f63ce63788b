package dev.megabridge.cli;

import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.EnvironmentException;
import dev.megabridge.core.io.TemporaryFolders;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Arrays;
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
        ForwardCommand.class, GenerateCommand.class, VerifyCommand.class, BenchCommand.class})
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
      Failure failure = handle(exception, failed, parseResult);
      if (jsonRequested(parseResult)) {
        printJsonError(failure.message(), failure.exitCode());
      }
      return failure.exitCode();
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

  /** With {@code --json}, a failure is also a JSON object on stdout: {@code {"error": ..., "exit_code": ...}}. */
  private static void printJsonError(String message, int exitCode) {
    Output.json(new JsonError(message, exitCode));
    System.out.flush();
  }

  /** The JSON object of a failure. */
  record JsonError(String error, int exitCode) {}

  /** What a failed command reports: its one-line message (stderr, and the JSON error object) and exit code. */
  record Failure(String message, int exitCode) {}

  private static Failure handle(Exception exception, CommandLine commandLine, CommandLine.ParseResult parseResult) {
    boolean verbose = parseResult.subcommand() != null && parseResult.subcommand().hasMatchedOption("--verbose");
    PrintWriter err = commandLine.getErr();
    if (verbose) {
      exception.printStackTrace(err);
    }
    Failure failure = classify(exception);
    boolean internal = failure.exitCode() == BridgeException.ExitCode.INTERNAL.code()
        && !(exception instanceof UncheckedIOException);
    err.println(internal ? failure.message() + (verbose ? "" : " (run with --verbose for the stack trace)")
        : "error: " + failure.message());
    err.flush();
    return failure;
  }

  /** The exit code of {@code exception} and the message that names its cause. */
  private static Failure classify(Exception exception) {
    return switch (exception) {
      case BridgeException bridge -> new Failure(messageOf(bridge), bridge.exitCode().code());
      case UncheckedIOException io when EnvironmentException.describe(io).isPresent() ->
          new Failure(EnvironmentException.describe(io).get(), BridgeException.ExitCode.ENVIRONMENT.code());
      case UncheckedIOException io -> new Failure(messageOf(io), BridgeException.ExitCode.INTERNAL.code());
      default -> new Failure("internal error: " + exception, BridgeException.ExitCode.INTERNAL.code());
    };
  }

  private static String messageOf(Exception exception) {
    return exception.getMessage() == null ? exception.getClass().getSimpleName() : exception.getMessage();
  }
}
