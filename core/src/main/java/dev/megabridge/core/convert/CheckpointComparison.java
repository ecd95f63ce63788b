package dev.megabridge.core.convert;

import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Bit-exact comparison of two HF folders: names, dtypes, shapes and bytes of every tensor. */
public final class CheckpointComparison {

  /** The outcome: tensors and bytes compared, and every difference found. */
  public record Result(int tensors, long bytes, List<String> differences) {
    public boolean identical() {
      return differences.isEmpty();
    }
  }

  private CheckpointComparison() {}

  public static Result compare(Path expectedDirectory, Path actualDirectory) {
    try (SafetensorsCheckpoint expected = SafetensorsCheckpoint.open(expectedDirectory);
        SafetensorsCheckpoint actual = SafetensorsCheckpoint.open(actualDirectory)) {
      List<String> differences = new ArrayList<>();
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
        if (mismatch >= 0) {
          differences.add(name + ": bytes differ from offset " + mismatch);
        }
        bytes += leftBytes.byteSize();
      }
      for (String name : extra) {
        differences.add(name + ": not in the source");
      }
      return new Result(expected.names().size(), bytes, differences);
    }
  }
}
