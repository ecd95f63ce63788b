package dev.megabridge.core.convert;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/** Bit-exact comparison of two HF folders: names, dtypes, shapes and bytes of every tensor. */
public final class CheckpointComparison {

  /**
   * The outcome: tensors and bytes compared, every difference found, and for the tensors compared by count, how many
   * of their elements are identical (their differences are counted there, not listed).
   */
  public record Result(int tensors, long bytes, List<String> differences, List<ElementCount> counted) {
    public Result {
      differences = List.copyOf(differences);
      counted = List.copyOf(counted);
    }

    public boolean identical() {
      return differences.isEmpty();
    }
  }

  /** Elements of one tensor compared element by element, and how many are bit-identical. */
  public record ElementCount(String name, long elements, long identical) {}

  private CheckpointComparison() {}

  public static Result compare(Path expectedDirectory, Path actualDirectory) {
    return compare(expectedDirectory, actualDirectory, name -> false);
  }

  /**
   * As {@link #compare(Path, Path)}, but tensors {@code countOnly} accepts (same dtype and shape on both sides)
   * are counted element by element instead of reported as differences: for values that a conversion may
   * legitimately change, such as re-quantized FP8 codes and scales.
   */
  public static Result compare(Path expectedDirectory, Path actualDirectory, Predicate<String> countOnly) {
    try (SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(expectedDirectory);
        SafetensorsCheckpoint actual = SafetensorsCheckpoint.open(actualDirectory)) {
      List<String> differences = new ArrayList<>();
      List<ElementCount> counted = new ArrayList<>();
      Set<String> extra = new LinkedHashSet<>(actual.names());
      long bytes = 0;
      for (String name : expected.names()) {
        extra.remove(name);
        if (!actual.contains(name)) {
          differences.add(name + ": missing");
          continue;
        }
        Tensor left = expected.tensor(name);
        Tensor right = actual.tensor(name);
        if (left.dtype() != right.dtype() || !left.shape().equals(right.shape())) {
          differences.add(name + ": " + left.dtype() + left.shape() + " became " + right.dtype() + right.shape());
          continue;
        }
        MemorySegment leftBytes = expected.tensor(name).contiguousSegment();
        MemorySegment rightBytes = actual.tensor(name).contiguousSegment();
        long mismatch = leftBytes.mismatch(rightBytes);
        if (countOnly.test(name)) {
          counted.add(new ElementCount(name, left.numel(), mismatch < 0 ? left.numel()
              : identicalElements(leftBytes, rightBytes, left.dtype().byteSize())));
        } else if (mismatch >= 0) {
          differences.add(name + ": bytes differ from offset " + mismatch);
        }
        bytes += leftBytes.byteSize();
      }
      for (String name : extra) {
        differences.add(name + ": not in the source");
      }
      return new Result(expected.names().size(), bytes, differences, counted);
    }
  }

  private static long identicalElements(MemorySegment left, MemorySegment right, int elementBytes) {
    long identical = 0;
    for (long offset = 0; offset < left.byteSize(); offset += elementBytes) {
      long end = offset + elementBytes;
      if (MemorySegment.mismatch(left, offset, end, right, offset, end) < 0) {
        identical++;
      }
    }
    return identical;
  }
}
