package dev.megabridge.core.error;

/** A tensor's shape or dtype differs from what the model or the layout requires. */
public final class ShapeMismatchException extends BridgeException {

  public ShapeMismatchException(String message) {
    super(message);
  }

  public ShapeMismatchException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.BAD_INPUT;
  }
}
