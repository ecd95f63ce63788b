package dev.megabridge.core.report;

import com.fasterxml.jackson.annotation.JsonUnwrapped;

/** A report under the name of the command that made it: {@code {"command": ..., then the report's keys}}. */
public record CommandReport(String command, @JsonUnwrapped Report report) implements Report {

  @Override
  public String describe() {
    return report.describe();
  }
}
