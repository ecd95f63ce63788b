package dev.megabridge.core.error;

/** A config.json (or another metadata file) is invalid or inconsistent; the message names the key. */
public final class ConfigException extends BridgeException {

  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.BAD_INPUT;
  }
}
