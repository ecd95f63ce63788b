package dev.megabridge.core.report;

/**
 * What a command did, as a typed record: its components are the {@code --json} summary (snake_case keys), and
 * {@link #describe()} is the one line a person reads. The CLI prints every report the same way.
 */
public interface Report {

  /** The summary line, without the elapsed time (the printer adds it). */
  String describe();
}
