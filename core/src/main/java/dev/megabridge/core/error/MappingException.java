package dev.megabridge.core.error;

/** A tensor has no mapping, a mapped tensor is missing, or a tensor would be consumed twice. */
public final class MappingException extends BridgeException {

  public MappingException(String message) {
    super(message);
  }

  public MappingException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.BAD_INPUT;
  }
}
