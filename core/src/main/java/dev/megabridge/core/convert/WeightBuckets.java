package dev.megabridge.core.convert;

import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Streaming export for RL weight sync: (HF name, tensor) pairs grouped into buckets of at most
 * {@code bucketBytes} (a single larger tensor gets a bucket of its own), in the deterministic export order.
 * Tensors stay lazy gathers over the rank files until a consumer streams them, so iterating holds no more
 * than one bucket's worth of views; concatenating all buckets reproduces the export exactly.
 */
public final class WeightBuckets implements Iterable<WeightBuckets.Bucket> {

  /** One named tensor of a bucket. */
  public record NamedTensor(String name, Tensor tensor) {}

  /** A bucket: its position, tensors in order, and total bytes. */
  public record Bucket(int index, List<NamedTensor> tensors, long bytes) {
    public Bucket {
      tensors = List.copyOf(tensors);
    }
  }

  private final List<NamedTensor> ordered;
  private final long bucketBytes;

  public WeightBuckets(Map<String, Tensor> tensors, long bucketBytes) {
    if (bucketBytes <= 0) {
      throw new IllegalArgumentException("bucket size must be positive");
    }
    List<NamedTensor> list = new ArrayList<>();
    tensors.forEach((name, tensor) -> list.add(new NamedTensor(name, tensor)));
    this.ordered = List.copyOf(list);
    this.bucketBytes = bucketBytes;
  }

  @Override
  public Iterator<Bucket> iterator() {
    return new Iterator<>() {
      private int next;
      private int bucketIndex;

      @Override
      public boolean hasNext() {
        return next < ordered.size();
      }

      @Override
      public Bucket next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        List<NamedTensor> members = new ArrayList<>();
        long bytes = 0;
        while (next < ordered.size()) {
          NamedTensor candidate = ordered.get(next);
          long size = candidate.tensor().byteSize();
          if (!members.isEmpty() && bytes + size > bucketBytes) {
            break;
          }
          members.add(candidate);
          bytes += size;
          next++;
        }
        return new Bucket(bucketIndex++, members, bytes);
      }
    };
  }
}
