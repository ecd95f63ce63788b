package dev.megabridge.core.report;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import java.util.Locale;

/**
 * What a conversion command did, timed: its summary's line with the elapsed time and {@code note} (e.g. the FP8
 * block size; may be empty); as JSON the keys {@code command}, {@code format} (the form read or written, when the
 * command has several; null: none, and no key), {@code summary} (the summary's components), {@code seconds}, then
 * the components of the record {@code extra} (null: none).
 */
public record TimedReport(String command, @JsonInclude(JsonInclude.Include.NON_NULL) String format, Report summary,
    double seconds, @JsonIgnore String note, @JsonUnwrapped Record extra) implements Report {

  /** A report without extra keys. */
  public TimedReport(String command, String format, Report summary, double seconds, String note) {
    this(command, format, summary, seconds, note, null);
  }

  /** The same report with {@code extra}'s keys after {@code seconds}. */
  public TimedReport withExtra(Record extra) {
    return new TimedReport(command, format, summary, seconds, note, extra);
  }

  @Override
  public String describe() {
    return String.format(Locale.ROOT, "%s in %.2f s%s", summary.describe(), seconds, note);
  }
}
