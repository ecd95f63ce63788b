package dev.megabridge.core.error;

/** An invariant of megabridge itself was broken: a bug, not bad input. */
public final class InternalException extends BridgeException {

  public InternalException(String message) {
    super(message);
  }

  public InternalException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.INTERNAL;
  }
}
