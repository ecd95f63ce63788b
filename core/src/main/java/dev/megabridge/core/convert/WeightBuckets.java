package dev.megabridge.core.convert;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Streaming export for RL weight sync: (HF name, tensor) pairs grouped into buckets of at most
 * {@code bucketBytes}, in the deterministic export order. A tensor larger than the bucket is split along its
 * first axis into pieces stored under {@link #pieceName}: packed experts ({@code [E, ...]}) into one piece per
 * expert, any other tensor into runs of rows, each piece filling what its bucket has left. Concatenating a
 * tensor's pieces along axis 0 in order reproduces it bit for bit, so the buckets in order carry exactly the
 * export. Every bucket holds at most {@code bucketBytes} bytes of tensor data; a single row (or expert) larger
 * than that cannot be honoured and is a {@link UsageException}. The buckets are planned when constructed (so
 * such an error comes before anything is written); tensors stay lazy views until a consumer streams them.
 */
public final class WeightBuckets implements Iterable<WeightBuckets.Bucket> {

  /**
   * One entry of a bucket: the key it is stored under and its tensor. A whole HF tensor is stored under its
   * HF name and has no {@code piece}; a piece of a split tensor is stored under {@link #pieceName}.
   */
  public record NamedTensor(String name, Tensor tensor, Optional<Piece> piece) {
    public NamedTensor(String name, Tensor tensor) {
      this(name, tensor, Optional.empty());
    }
  }

  /**
   * Rows {@code [begin, end)} of axis 0 of the HF tensor {@code tensorName}, whose full shape is
   * {@code shape}; {@code perExpert} when axis 0 numbers packed experts (then {@code end = begin + 1}).
   */
  public record Piece(String tensorName, Shape shape, long begin, long end, boolean perExpert) {}

  /** A bucket: its position, entries in order, and total tensor bytes. */
  public record Bucket(int index, List<NamedTensor> tensors, long bytes) {
    public Bucket {
      tensors = List.copyOf(tensors);
    }
  }

  private final long bucketBytes;
  private final List<Bucket> buckets;

  /** Buckets without packed experts: every tensor larger than the bucket is split into runs of rows. */
  public WeightBuckets(Map<String, Tensor> tensors, long bucketBytes) {
    this(tensors, Set.of(), bucketBytes);
  }

  /**
   * @param packedExperts HF names whose axis 0 numbers experts (see {@link #packedExpertNames}): when
   *     larger than the bucket they are split one piece per expert
   */
  public WeightBuckets(Map<String, Tensor> tensors, Set<String> packedExperts, long bucketBytes) {
    if (bucketBytes <= 0) {
      throw new UsageException("bucket size must be positive, got " + bucketBytes);
    }
    this.bucketBytes = bucketBytes;
    this.buckets = plan(tensors, packedExperts, bucketBytes);
  }

  /** The key a piece of {@code name} is stored under: {@code name[begin:end]} (rows of axis 0, end exclusive). */
  public static String pieceName(String name, long begin, long end) {
    return name + "[" + begin + ":" + end + "]";
  }

  /** The HF tensors of {@code plan} that stack experts along axis 0 (packed experts: the grouped exports). */
  public static Set<String> packedExpertNames(ShardPlan plan) {
    Set<String> names = new LinkedHashSet<>();
    for (ParamMapping mapping : plan.ownedParams().values()) {
      if (mapping.isGroupedExport()) {
        names.addAll(mapping.hfParams().values());
      }
    }
    return names;
  }

  private static List<Bucket> plan(Map<String, Tensor> tensors, Set<String> packedExperts, long bucketBytes) {
    List<Bucket> out = new ArrayList<>();
    List<NamedTensor> current = new ArrayList<>();
    long currentBytes = 0;
    for (Map.Entry<String, Tensor> named : tensors.entrySet()) {
      String name = named.getKey();
      Tensor tensor = named.getValue();
      long size = tensor.byteSize();
      if (size <= bucketBytes) {
        if (currentBytes + size > bucketBytes) {
          out.add(new Bucket(out.size(), current, currentBytes));
          current = new ArrayList<>();
          currentBytes = 0;
        }
        current.add(new NamedTensor(name, tensor));
        currentBytes += size;
        continue;
      }
      boolean perExpert = packedExperts.contains(name);
      Shape shape = tensor.shape();
      String unit = perExpert ? "expert" : "row";
      if (shape.rank() == 0) {
        throw new UsageException("bucket size " + bucketBytes + " bytes is smaller than the scalar tensor '" + name
            + "' (" + size + " bytes), which cannot be split");
      }
      long rows = shape.dim(0);
      long rowBytes = size / rows;
      if (rowBytes > bucketBytes) {
        throw new UsageException("bucket size " + bucketBytes + " bytes is smaller than one " + unit + " of tensor '"
            + name + "' (" + tensor.dtype() + shape + ", " + size + " bytes, " + rowBytes + " bytes per " + unit
            + " of axis 0); use a bucket size of at least " + rowBytes + " bytes");
      }
      long begin = 0;
      while (begin < rows) {
        long fitting = (bucketBytes - currentBytes) / rowBytes;
        if (fitting == 0) {
          out.add(new Bucket(out.size(), current, currentBytes));
          current = new ArrayList<>();
          currentBytes = 0;
          fitting = bucketBytes / rowBytes;
        }
        long count = perExpert ? 1 : Math.min(fitting, rows - begin);
        long end = begin + count;
        current.add(new NamedTensor(pieceName(name, begin, end), tensor.slice(0, begin, count),
            Optional.of(new Piece(name, shape, begin, end, perExpert))));
        currentBytes += count * rowBytes;
        begin = end;
      }
    }
    if (!current.isEmpty()) {
      out.add(new Bucket(out.size(), current, currentBytes));
    }
    return List.copyOf(out);
  }

  public long bucketBytes() {
    return bucketBytes;
  }

  public List<Bucket> buckets() {
    return buckets;
  }

  /** The largest bucket's tensor bytes (0 when there are no tensors); never more than {@link #bucketBytes()}. */
  public long largestBucketBytes() {
    return buckets.stream().mapToLong(Bucket::bytes).max().orElse(0);
  }

  @Override
  public Iterator<Bucket> iterator() {
    return buckets.iterator();
  }
}
