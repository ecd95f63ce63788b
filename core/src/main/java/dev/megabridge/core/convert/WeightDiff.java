package dev.megabridge.core.convert;

import dev.megabridge.core.io.WorkerPool;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;

/**
 * Two checkpoints compared in the HF view, tensor by tensor, without a forward pass: which tensors are identical,
 * which differ and by how much, which exist on one side only. Tensors are read in bands of at most
 * {@link #BAND_ELEMENTS} elements per side, so memory stays bounded; bands whose bytes are equal (same dtype) are
 * not converted at all, so comparing a checkpoint with its own faithful copy runs at the speed of reading both.
 */
public final class WeightDiff {
  static final long BAND_ELEMENTS = 1L << 22;

  private WeightDiff() {}

  /** How one tensor compares. */
  public enum Status {
    IDENTICAL,
    DIFFERENT,
    SHAPE_MISMATCH,
    ONLY_LEFT,
    ONLY_RIGHT
  }

  /**
   * @param differing elements whose values differ (compared as float32 when the dtypes differ)
   * @param maxAbsDifference the largest |left − right| over the tensor (infinite where one side is NaN or infinite
   *     and the other is not)
   */
  public record TensorDiff(String name, Status status, String left, String right, long elements, long differing,
      double maxAbsDifference) {}

  /** Every tensor's comparison, the differences first (largest first), then the rest in name order. */
  public record Report(List<TensorDiff> tensors, long bytesCompared) {
    public Report {
      tensors = List.copyOf(tensors);
    }

    public long count(Status status) {
      return tensors.stream().filter(diff -> diff.status() == status).count();
    }

    public boolean identical() {
      return tensors.stream().allMatch(diff -> diff.status() == Status.IDENTICAL);
    }
  }

  public static Report compare(TensorSource left, TensorSource right, int threads, LongConsumer progressBytes) {
    Set<String> names = new LinkedHashSet<>(left.names());
    names.addAll(right.names());
    ConcurrentHashMap<String, TensorDiff> results = new ConcurrentHashMap<>();
    long[] bytes = {0};
    WorkerPool.forEach(List.copyOf(names), threads, name -> {
      TensorDiff diff = compareOne(name, left, right, progressBytes);
      results.put(name, diff);
      if (diff.status() == Status.IDENTICAL || diff.status() == Status.DIFFERENT) {
        synchronized (bytes) {
          bytes[0] += left.tensor(name).byteSize() + right.tensor(name).byteSize();
        }
      }
    });
    List<TensorDiff> ordered = new ArrayList<>(results.values());
    ordered.sort(Comparator.comparing((TensorDiff diff) -> diff.status() == Status.IDENTICAL)
        .thenComparing(Comparator.comparingDouble(TensorDiff::maxAbsDifference).reversed())
        .thenComparing(TensorDiff::name));
    return new Report(ordered, bytes[0]);
  }

  private static String describe(TensorSource source, String name) {
    return source.dtype(name) + source.shape(name).toString();
  }

  private static TensorDiff compareOne(String name, TensorSource left, TensorSource right, LongConsumer progress) {
    if (!right.contains(name)) {
      return new TensorDiff(name, Status.ONLY_LEFT, describe(left, name), "", left.shape(name).numel(), 0,
          Double.POSITIVE_INFINITY);
    }
    if (!left.contains(name)) {
      return new TensorDiff(name, Status.ONLY_RIGHT, "", describe(right, name), right.shape(name).numel(), 0,
          Double.POSITIVE_INFINITY);
    }
    Shape shape = left.shape(name);
    if (!shape.equals(right.shape(name))) {
      return new TensorDiff(name, Status.SHAPE_MISMATCH, describe(left, name), describe(right, name), shape.numel(),
          0, Double.POSITIVE_INFINITY);
    }
    Tensor leftTensor = left.tensor(name);
    Tensor rightTensor = right.tensor(name);
    boolean sameDtype = leftTensor.dtype() == rightTensor.dtype();
    long differing = 0;
    double maxAbs = 0;
    for (Band band : bands(shape)) {
      Tensor leftBand = band.of(leftTensor);
      Tensor rightBand = band.of(rightTensor);
      progress.accept(leftBand.byteSize() + rightBand.byteSize());
      if (sameDtype && Arrays.equals(leftBand.toByteArray(), rightBand.toByteArray())) {
        continue;
      }
      float[] leftValues = leftBand.toFloatArray();
      float[] rightValues = rightBand.toFloatArray();
      for (int index = 0; index < leftValues.length; index++) {
        float a = leftValues[index];
        float b = rightValues[index];
        if (Float.floatToIntBits(a) != Float.floatToIntBits(b)) {
          differing++;
          double difference = Math.abs((double) a - (double) b);
          maxAbs = Math.max(maxAbs, Double.isNaN(difference) ? Double.POSITIVE_INFINITY : difference);
        }
      }
      if (sameDtype && differing == 0) {
        // Equal bits as floats, different bytes: only NaN payloads differ; still not the same checkpoint.
        differing = 1;
      }
    }
    Status status = differing == 0 ? Status.IDENTICAL : Status.DIFFERENT;
    return new TensorDiff(name, status, describe(left, name), describe(right, name), shape.numel(), differing, maxAbs);
  }

  /** A range of rows along axis 0 (the whole tensor for a scalar). */
  private record Band(long start, long length, boolean whole) {
    Tensor of(Tensor tensor) {
      return whole ? tensor : tensor.slice(0, start, length);
    }
  }

  private static List<Band> bands(Shape shape) {
    if (shape.rank() == 0 || shape.numel() <= BAND_ELEMENTS) {
      return List.of(new Band(0, 0, true));
    }
    long rowElements = Math.max(1, shape.numel() / shape.dim(0));
    long rowsPerBand = Math.max(1, BAND_ELEMENTS / rowElements);
    List<Band> bands = new ArrayList<>();
    for (long start = 0; start < shape.dim(0); start += rowsPerBand) {
      bands.add(new Band(start, Math.min(rowsPerBand, shape.dim(0) - start), false));
    }
    return bands;
  }
}
