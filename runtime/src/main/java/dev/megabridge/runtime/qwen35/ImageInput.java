package dev.megabridge.runtime.qwen35;

import java.util.List;

/**
 * Preprocessed images: {@code pixelValues} {@code [patches, patchDim]} (one row per patch, docs/model.md §5.4) and one
 * grid per image, in prompt order.
 */
public record ImageInput(float[] pixelValues, int patchDim, List<GridThw> grids) {

  public ImageInput {
    grids = List.copyOf(grids);
    int patches = grids.stream().mapToInt(GridThw::patches).sum();
    if ((long) patches * patchDim != pixelValues.length) {
      throw new IllegalArgumentException(pixelValues.length + " pixel values for " + patches + " patches of "
          + patchDim);
    }
  }

  public int patches() {
    return pixelValues.length / patchDim;
  }
}
