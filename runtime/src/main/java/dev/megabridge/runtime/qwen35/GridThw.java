package dev.megabridge.runtime.qwen35;

/** One image's patch grid (frames, rows, columns), as in {@code image_grid_thw}. */
public record GridThw(int frames, int height, int width) {

  public int patches() {
    return frames * height * width;
  }

  /** Number of LLM tokens after the {@code merge × merge} patch merger. */
  public int tokens(int mergeSize) {
    return patches() / (mergeSize * mergeSize);
  }
}
