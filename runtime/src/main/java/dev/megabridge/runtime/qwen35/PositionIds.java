package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.error.UsageException;
import java.util.Arrays;
import java.util.List;

/**
 * M-RoPE position ids (docs/model.md §6): {@code ids[axis][token]} for the axes T, H, W, and {@code ropeDelta} such
 * that a token appended at sequence index {@code i} gets position {@code i + ropeDelta} on all three axes.
 */
public record PositionIds(int[][] ids, int ropeDelta) {

  public int length() {
    return ids[0].length;
  }

  /** Positions of the tokens {@code [start, start + count)}. */
  public PositionIds slice(int start, int count) {
    int[][] part = new int[3][];
    for (int axis = 0; axis < 3; axis++) {
      part[axis] = Arrays.copyOfRange(ids[axis], start, start + count);
    }
    return new PositionIds(part, ropeDelta);
  }

  /** Positions of {@code count} decode tokens starting at sequence index {@code firstIndex}. */
  public static PositionIds decode(int firstIndex, int count, int ropeDelta) {
    int[][] ids = new int[3][count];
    for (int axis = 0; axis < 3; axis++) {
      for (int token = 0; token < count; token++) {
        ids[axis][token] = firstIndex + token + ropeDelta;
      }
    }
    return new PositionIds(ids, ropeDelta);
  }

  /**
   * get_rope_index: text tokens take {@code (cur, cur, cur)}; the {@code t·(h/m)·(w/m)} placeholder tokens of an
   * image take {@code (cur + τ, cur + r, cur + c)} in (frame, row, column) order, after which {@code cur} continues
   * one past the largest id used.
   */
  public static PositionIds of(long[] inputIds, List<GridThw> grids, long imageTokenId, int mergeSize) {
    int length = inputIds.length;
    int[][] ids = new int[3][length];
    int current = 0;
    int imageIndex = 0;
    int token = 0;
    while (token < length) {
      if (inputIds[token] != imageTokenId) {
        for (int axis = 0; axis < 3; axis++) {
          ids[axis][token] = current;
        }
        current++;
        token++;
        continue;
      }
      if (imageIndex >= grids.size()) {
        throw new UsageException("more image placeholder runs than images (" + grids.size() + ")");
      }
      GridThw grid = grids.get(imageIndex++);
      int rows = grid.height() / mergeSize;
      int columns = grid.width() / mergeSize;
      int count = grid.frames() * rows * columns;
      if (token + count > length) {
        throw new UsageException("image " + (imageIndex - 1) + " needs " + count + " placeholder tokens");
      }
      int index = token;
      for (int frame = 0; frame < grid.frames(); frame++) {
        for (int row = 0; row < rows; row++) {
          for (int column = 0; column < columns; column++) {
            if (inputIds[index] != imageTokenId) {
              throw new UsageException("image " + (imageIndex - 1) + " needs " + count
                  + " consecutive placeholder tokens at " + token);
            }
            ids[0][index] = current + frame;
            ids[1][index] = current + row;
            ids[2][index] = current + column;
            index++;
          }
        }
      }
      current += Math.max(grid.frames(), Math.max(rows, columns));
      token = index;
    }
    if (imageIndex != grids.size()) {
      throw new UsageException(grids.size() + " images but " + imageIndex + " placeholder runs");
    }
    return new PositionIds(ids, current - length);
  }
}
