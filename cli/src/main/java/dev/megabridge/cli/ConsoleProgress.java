package dev.megabridge.cli;

import dev.megabridge.core.convert.Progress;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar with bytes/s and ETA on stderr; silent when quiet or when stderr is not a terminal. */
final class ConsoleProgress implements Progress {
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
    bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(Math.max(1, totalBytes / (1 << 20)))
        .setUnit(" MiB", 1).setStyle(ProgressBarStyle.ASCII).showSpeed().setMaxRenderedLength(100)
        .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build();
  }

  private long pendingBytes;

  @Override
  public synchronized void advance(long bytes) {
    if (bar == null) {
      return;
    }
    pendingBytes += bytes;
    long mib = pendingBytes >> 20;
    if (mib > 0) {
      bar.stepBy(mib);
      pendingBytes -= mib << 20;
    }
  }

  @Override
  public synchronized void finish() {
    if (bar != null) {
      bar.stepTo(bar.getMax());
      bar.close();
      bar = null;
    }
  }
}
