package dev.megabridge.cli;

import picocli.CommandLine.Option;

/** Options every command takes. */
public final class CommonOptions {
  @Option(names = "--verbose", description = "Print stack traces of errors.")
  boolean verbose;

  @Option(names = "--quiet", description = "No progress bars.")
  boolean quiet;

  @Option(names = "--json", description = "Print a machine-readable JSON summary on stdout.")
  boolean json;
}
