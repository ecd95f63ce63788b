package dev.megabridge.core.error;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The machine refused the work, not the input or the request: the disk is full, the output folder is read-only or
 * not writable, the output is a mount point that cannot be renamed. The message carries the operating system's
 * reason and its errno name (e.g. "No space left on device (ENOSPC)").
 */
public final class EnvironmentException extends BridgeException {

  /** An operating-system error text as the JDK reports it (strerror) and its errno name. */
  private record OsError(String text, String errno) {}

  /** The errors that say something about the machine; anything else stays an internal error. */
  private static final List<OsError> ENVIRONMENT_ERRORS = List.of(
      new OsError("No space left on device", "ENOSPC"),
      new OsError("Disk quota exceeded", "EDQUOT"),
      new OsError("Read-only file system", "EROFS"),
      new OsError("Permission denied", "EACCES"),
      new OsError("Operation not permitted", "EPERM"),
      new OsError("Device or resource busy", "EBUSY"),
      new OsError("File too large", "EFBIG"),
      new OsError("Too many open files", "EMFILE"),
      new OsError("Input/output error", "EIO"));

  public EnvironmentException(String message) {
    super(message);
  }

  public EnvironmentException(String message, Throwable cause) {
    super(message, cause);
  }

  @Override
  public ExitCode exitCode() {
    return ExitCode.ENVIRONMENT;
  }

  /**
   * The operating system's reason, with its errno name, when {@code failure} or one of its causes is an
   * {@link IOException} raised by the machine (see {@link #ENVIRONMENT_ERRORS}); empty for anything else.
   */
  public static Optional<String> reason(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof AccessDeniedException) {
        return Optional.of("Permission denied (EACCES)");
      }
      if (cause instanceof IOException io) {
        String text = io instanceof FileSystemException fileSystem && fileSystem.getReason() != null
            ? fileSystem.getReason() : io.getMessage();
        Optional<String> known = known(text);
        if (known.isPresent()) {
          return known;
        }
      }
      if (cause.getCause() == cause) {
        break;
      }
    }
    return Optional.empty();
  }

  /** {@code what} failed for an environment reason: the message names it and the reason. */
  public static Optional<EnvironmentException> of(String what, IOException failure) {
    return reason(failure).map(reason -> new EnvironmentException(what + ": " + reason, failure));
  }

  /**
   * The message of an environment failure with its reason: {@code failure}'s message, with the errno name added
   * where the message already says why (e.g. "X: write failed: No space left on device (ENOSPC)"), else with the
   * reason appended; empty when {@code failure} is not an environment failure.
   */
  public static Optional<String> describe(Throwable failure) {
    return reason(failure).map(reason -> {
      String message = failure.getMessage() == null ? failure.getClass().getSimpleName() : failure.getMessage();
      String text = reason.substring(0, reason.lastIndexOf(" ("));
      return message.contains(text) ? message.replace(text, reason) : message + ": " + reason;
    });
  }

  private static Optional<String> known(String text) {
    if (text == null) {
      return Optional.empty();
    }
    String lower = text.toLowerCase(Locale.ROOT);
    for (OsError error : ENVIRONMENT_ERRORS) {
      if (lower.contains(error.text().toLowerCase(Locale.ROOT))) {
        return Optional.of(error.text() + " (" + error.errno() + ")");
      }
    }
    return Optional.empty();
  }
}
