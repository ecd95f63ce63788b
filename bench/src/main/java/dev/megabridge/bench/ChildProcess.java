package dev.megabridge.bench;

import dev.megabridge.core.error.InternalException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Runs a command, timing it and sampling its peak anonymous resident memory (RssAnon) from /proc. */
public final class ChildProcess {

  /** Wall seconds and the peak RssAnon seen (bytes; 0 where /proc is unavailable). */
  public record Measurement(double seconds, long peakRssAnonBytes) {}

  private ChildProcess() {}

  public static Measurement run(List<String> command, Path logFile) {
    try {
      ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(logFile.toFile());
      long start = System.nanoTime();
      Process process = builder.start();
      long peak = 0;
      Path status = Path.of("/proc", Long.toString(process.pid()), "status");
      while (process.isAlive()) {
        peak = Math.max(peak, rssAnon(status));
        Thread.sleep(10);
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      if (process.exitValue() != 0) {
        throw new InternalException(String.join(" ", command) + " failed with exit code " + process.exitValue()
            + "; see " + logFile);
      }
      return new Measurement(seconds, peak);
    } catch (IOException e) {
      throw new InternalException("cannot run " + command + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InternalException("interrupted", e);
    }
  }

  static long rssAnon(Path status) {
    try {
      for (String line : Files.readAllLines(status)) {
        if (line.startsWith("RssAnon:")) {
          String[] parts = line.trim().split("\\s+");
          return Long.parseLong(parts[1]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // The process may have just exited; the last sample stands.
    }
    return 0;
  }
}
