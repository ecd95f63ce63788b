package dev.megabridge.core.error;

/** A requested parallel layout is invalid or does not divide the model's dimensions. */
public final class LayoutException extends BridgeException {

  public LayoutException(String message) {
    super(message);
  }

  public LayoutException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.BAD_ARGUMENTS;
  }
}
