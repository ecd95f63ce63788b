package dev.megabridge.core.error;

/**
 * Root of every error megabridge raises on purpose. Each subclass says which side is at fault, so the
 * CLI can map it to an exit code: {@link ExitCode#BAD_INPUT} for data that cannot be accounted for,
 * {@link ExitCode#BAD_ARGUMENTS} for a request that cannot be honoured, {@link ExitCode#ENVIRONMENT} for a
 * machine that refuses the work (disk full, read-only or busy output), {@link ExitCode#INTERNAL} otherwise.
 */
public abstract sealed class BridgeException extends RuntimeException
    permits CheckpointFormatException, ConfigException, MappingException, ShapeMismatchException,
        UnsupportedModelException, LayoutException, UsageException, EnvironmentException, InternalException {

  protected BridgeException(String message) {
    super(message);
  }

  protected BridgeException(String message, Throwable cause) {
    super(message, cause);
  }

  /** The process exit code this failure maps to. */
  public abstract ExitCode exitCode();

  /** Process exit codes shared by every command. */
  public enum ExitCode {
    OK(0),
    INTERNAL(1),
    BAD_ARGUMENTS(2),
    BAD_INPUT(3),
    ENVIRONMENT(4);

    private final int code;

    ExitCode(int code) {
      this.code = code;
    }

    public int code() {
      return code;
    }
  }
}
