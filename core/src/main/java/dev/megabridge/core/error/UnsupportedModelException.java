package dev.megabridge.core.error;

/** No registered bridge serves the checkpoint's architecture. */
public final class UnsupportedModelException extends BridgeException {

  public UnsupportedModelException(String message) {
    super(message);
  }

  public UnsupportedModelException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.BAD_INPUT;
  }
}
