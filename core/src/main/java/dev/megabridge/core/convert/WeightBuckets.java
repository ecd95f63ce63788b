package dev.megabridge.core.convert;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.tensor.Fp8BlockQuantized;
import dev.megabridge.core.tensor.Fp8CodesTensor;
import dev.megabridge.core.tensor.Fp8ScalesTensor;
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
 * export. A blockwise FP8 weight ({@link Fp8CodesTensor}) and its scales ({@link Fp8Config#scaleName}) are one
 * unit: they share a bucket and both count against its size; split, they become (weight piece, scale piece)
 * pairs cut on block-row boundaries (one expert of packed experts), each pair in one bucket. Every bucket holds
 * at most {@code bucketBytes} bytes of tensor data; a single row (or expert, or FP8 band of block rows with its
 * scales) larger than that cannot be honoured and is a {@link UsageException}. The buckets are planned when
 * constructed (so such an error comes before anything is written); tensors stay lazy views until a consumer
 * streams them.
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
    Planner planner = new Planner(bucketBytes);
    for (Map.Entry<String, Tensor> named : tensors.entrySet()) {
      String name = named.getKey();
      Tensor tensor = named.getValue();
      if (tensor instanceof Fp8CodesTensor codes) {
        planQuantized(planner, name, codes, scalesOf(tensors, name, codes),
            packedExperts.contains(name) && codes.shape().rank() > 2);
        continue;
      }
      if (tensor instanceof Fp8ScalesTensor && Fp8Config.isScaleName(name)
          && tensors.get(Fp8Config.weightOfScale(name)) instanceof Fp8CodesTensor) {
        continue; // planned with its weight
      }
      long size = tensor.byteSize();
      if (size <= bucketBytes) {
        if (size > planner.room()) {
          planner.close();
        }
        planner.add(size, new NamedTensor(name, tensor));
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
        long fitting = planner.room() / rowBytes;
        if (fitting == 0) {
          planner.close();
          fitting = bucketBytes / rowBytes;
        }
        long count = perExpert ? 1 : Math.min(fitting, rows - begin);
        long end = begin + count;
        planner.add(count * rowBytes, new NamedTensor(pieceName(name, begin, end), tensor.slice(0, begin, count),
            Optional.of(new Piece(name, shape, begin, end, perExpert))));
        begin = end;
      }
    }
    return planner.finish();
  }

  /** The scales of the FP8 weight {@code name}: the tensor under its scale name, of the same quantization. */
  private static Fp8ScalesTensor scalesOf(Map<String, Tensor> tensors, String name, Fp8CodesTensor codes) {
    String scaleName = Fp8Config.scaleName(name);
    if (tensors.get(scaleName) instanceof Fp8ScalesTensor scales && scales.quantized() == codes.quantized()) {
      return scales;
    }
    throw new IllegalArgumentException("the FP8 weight '" + name + "' has no scales '" + scaleName
        + "' of its own quantization among the tensors to bucket");
  }

  /**
   * Plans an FP8 weight and its scales as one unit: both in the same bucket, their bytes counted together. A unit
   * larger than the bucket is split along axis 0 into (weight piece, scale piece) pairs that share a bucket:
   * packed experts one expert per pair, another stacked tensor in runs of its leading axis, a matrix in runs of
   * whole bands of block rows. A piece is the quantization of the same rows of the source, which is bit for bit
   * the same rows of the whole tensor's codes and scales because blocks never cross a piece boundary; the scale
   * piece of weight rows {@code [a, b)} holds scale rows {@code [a / blockRows, ceil(b / blockRows))}.
   */
  private static void planQuantized(Planner planner, String name, Fp8CodesTensor codes, Fp8ScalesTensor scales,
      boolean perExpert) {
    String scaleName = Fp8Config.scaleName(name);
    long size = codes.byteSize() + scales.byteSize();
    if (size <= planner.bucketBytes) {
      if (size > planner.room()) {
        planner.close();
      }
      planner.add(size, new NamedTensor(name, codes), new NamedTensor(scaleName, scales));
      return;
    }
    QuantizedRows rows = new QuantizedRows(codes, scales);
    long unitBytes = rows.bytes(0, rows.step());
    if (unitBytes > planner.bucketBytes) {
      String unit = perExpert ? "expert" : rows.step() == 1 ? "index of axis 0" : "band";
      String described = unit.equals("band") ? "band of " + rows.step() + " rows (one block row)" : unit;
      throw new UsageException("bucket size " + planner.bucketBytes + " bytes is smaller than one " + described
          + " of the FP8 tensor '" + name + "' with its scales (" + codes.dtype() + codes.shape() + " and "
          + scaleName + " " + scales.dtype() + scales.shape() + ", " + size + " bytes together, " + unitBytes
          + " bytes per " + unit + "); use a bucket size of at least " + unitBytes + " bytes");
    }
    long begin = 0;
    while (begin < rows.rows()) {
      long end = rows.furthestEnd(begin, planner.room());
      if (end == begin) {
        planner.close();
        end = rows.furthestEnd(begin, planner.bucketBytes);
      }
      if (perExpert) {
        end = begin + 1;
      }
      Fp8BlockQuantized source = codes.quantized();
      Fp8BlockQuantized piece = new Fp8BlockQuantized(source.source().slice(0, begin, end - begin),
          source.quantizer());
      long scaleBegin = begin / rows.step();
      long scaleEnd = Math.ceilDiv(end, rows.step());
      planner.add(rows.bytes(begin, end),
          new NamedTensor(pieceName(name, begin, end), piece.codes(),
              Optional.of(new Piece(name, codes.shape(), begin, end, perExpert))),
          new NamedTensor(pieceName(scaleName, scaleBegin, scaleEnd), piece.scales(),
              Optional.of(new Piece(scaleName, scales.shape(), scaleBegin, scaleEnd, perExpert))));
      begin = end;
    }
  }

  /**
   * Axis 0 of an FP8 weight with its scales, cut in steps of {@code step} rows (one block row of a matrix, one
   * index of a leading axis): the bytes of rows {@code [begin, end)} of the codes plus their scale rows.
   */
  private record QuantizedRows(long rows, long step, long codeRowBytes, long scaleRowBytes) {
    QuantizedRows(Fp8CodesTensor codes, Fp8ScalesTensor scales) {
      this(codes.shape().dim(0), codes.shape().rank() == 2 ? codes.quantized().quantizer().blockRows() : 1,
          codes.byteSize() / codes.shape().dim(0), scales.byteSize() / scales.shape().dim(0));
    }

    /** Bytes of rows {@code [begin, end)}, {@code begin} a multiple of the step. */
    long bytes(long begin, long end) {
      long clippedEnd = Math.min(end, rows);
      return (clippedEnd - begin) * codeRowBytes + (Math.ceilDiv(clippedEnd, step) - begin / step) * scaleRowBytes;
    }

    /** The largest end ({@code rows} or a multiple of the step) whose rows from {@code begin} fit {@code room}. */
    long furthestEnd(long begin, long room) {
      long stepBytes = bytes(0, step);
      long end = Math.min(rows, begin + room / stepBytes * step);
      if (end < rows && end + step >= rows && bytes(begin, rows) <= room) {
        end = rows; // the last, shorter step fits
      }
      return end;
    }
  }

  /** The buckets being filled: the closed ones and the current one. */
  private static final class Planner {
    private final long bucketBytes;
    private final List<Bucket> closed = new ArrayList<>();
    private List<NamedTensor> current = new ArrayList<>();
    private long currentBytes;

    Planner(long bucketBytes) {
      this.bucketBytes = bucketBytes;
    }

    long room() {
      return bucketBytes - currentBytes;
    }

    void close() {
      closed.add(new Bucket(closed.size(), current, currentBytes));
      current = new ArrayList<>();
      currentBytes = 0;
    }

    void add(long bytes, NamedTensor... entries) {
      current.addAll(List.of(entries));
      currentBytes += bytes;
    }

    List<Bucket> finish() {
      if (!current.isEmpty()) {
        close();
      }
      return List.copyOf(closed);
    }
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
