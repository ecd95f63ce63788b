package dev.megabridge.cli;

import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.report.ByteSizes;
import java.time.Duration;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;

/**
 * A progress bar with bytes/s and ETA on stderr; silent when quiet or when stderr is not a terminal. It shows the bytes
 * reported and no more: a run that fails leaves the bar where it stopped.
 */
final class ConsoleProgress implements Progress {
  /** Below this much elapsed time a rate says more about timer granularity than about throughput: none is shown. */
  static final Duration RATE_AFTER = Duration.ofMillis(250);

  private final boolean enabled;
  private ProgressBar bar;

  private ConsoleProgress(boolean enabled) {
    this.enabled = enabled;
  }

  static Progress create(CommonOptions common) {
    boolean terminal = System.console() != null && System.console().isTerminal();
    return new ConsoleProgress(!common.quiet && !common.json && terminal);
  }

  @Override
  public synchronized void start(String task, long totalBytes) {
    if (!enabled) {
      return;
    }
    // Counted in bytes (no rounding to MiB); rendered by render() from the bar's own clock.
    bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(Math.max(1, totalBytes))
        .setRenderer((state, maxLength) -> render(state.getTaskName(), state.getCurrent(), state.getMax(),
            state.getTotalElapsed(), Math.min(maxLength, 100)))
        .setUpdateIntervalMillis(250).setConsumer(new ConsoleProgressBarConsumer(System.err)).build();
  }

  @Override
  public synchronized void advance(long bytes) {
    if (bar != null) {
      bar.stepBy(bytes);
    }
  }

  @Override
  public synchronized void finish() {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }

  /**
   * One line of the bar: {@code task  42% [=====>    ] 3.01/7.10 MiB  12.3 MiB/s  1.2 s  ETA 2 s}. The percentage, the
   * bar and the byte count come from the same fraction; the rate is bytes done over the time shown, so rate × time =
   * bytes; rate and ETA are left out until {@link #RATE_AFTER} has passed with some bytes done.
   */
  static String render(String task, long done, long total, Duration elapsed, int width) {
    double fraction = total <= 0 ? 0 : Math.min(1, Math.max(0, (double) done / total));
    int percent = (int) Math.floor(fraction * 100);
    StringBuilder tail = new StringBuilder();
    tail.append(' ').append(ByteSizes.numberIn(done, total)).append('/').append(ByteSizes.format(total));
    double seconds = elapsed.toNanos() / 1e9;
    boolean rateKnown = done > 0 && elapsed.compareTo(RATE_AFTER) >= 0;
    if (rateKnown) {
      double rate = done / seconds;
      tail.append("  ").append(rate(rate));
    }
    tail.append("  ").append(duration(seconds));
    if (rateKnown && done < total) {
      tail.append("  ETA ").append(duration((total - done) / (done / seconds)));
    }
    String head = String.format(Locale.ROOT, "%s %3d%% [", task, percent);
    int barWidth = Math.max(10, width - head.length() - 1 - tail.length());
    int filled = (int) Math.floor(fraction * barWidth);
    StringBuilder line = new StringBuilder(head);
    line.append("=".repeat(filled));
    if (filled < barWidth) {
      line.append(filled > 0 ? ">" : " ").append(" ".repeat(barWidth - filled - 1));
    }
    return line.append(']').append(tail).toString();
  }

  /** Bytes per second with three significant digits at most, e.g. {@code 261 MiB/s}, {@code 12.3 MiB/s}, {@code 0.51 MiB/s}. */
  static String rate(double bytesPerSecond) {
    String[] units = {"B/s", "KiB/s", "MiB/s", "GiB/s"};
    double value = bytesPerSecond;
    int unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    String pattern = value >= 100 ? "%.0f %s" : value >= 10 ? "%.1f %s" : "%.2f %s";
    return String.format(Locale.ROOT, pattern, value, units[unit]);
  }

  /** {@code 0.4 s}, {@code 12.3 s}, {@code 2:05}, {@code 1:02:05}. */
  static String duration(double seconds) {
    if (seconds < 60) {
      return String.format(Locale.ROOT, "%.1f s", seconds);
    }
    long whole = Math.round(seconds);
    return whole < 3600 ? String.format(Locale.ROOT, "%d:%02d", whole / 60, whole % 60)
        : String.format(Locale.ROOT, "%d:%02d:%02d", whole / 3600, whole / 60 % 60, whole % 60);
  }
}
