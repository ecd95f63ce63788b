package dev.megabridge.core.error;

/** A command was called with arguments that cannot be honoured. */
public final class UsageException extends BridgeException {

  public UsageException(String message) {
    super(message);
  }

  public UsageException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.BAD_ARGUMENTS;
  }
}
