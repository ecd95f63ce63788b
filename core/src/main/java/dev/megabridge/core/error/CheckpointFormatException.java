package dev.megabridge.core.error;

/** A checkpoint file is malformed; the message names the file and, where known, the tensor. */
public final class CheckpointFormatException extends BridgeException {

  public CheckpointFormatException(String message) {
    super(message);
  }

  public CheckpointFormatException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.BAD_INPUT;
  }
}
