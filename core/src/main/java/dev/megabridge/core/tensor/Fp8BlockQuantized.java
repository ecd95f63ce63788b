package dev.megabridge.core.tensor;

import dev.megabridge.core.io.ChecksummedReads;
import dev.megabridge.core.quant.Fp8BlockQuantizer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The blockwise FP8 quantization of one floating tensor of rank ≥ 2 (docs/formats.md §5): blocks tile the last
 * two axes, every leading index (an expert of a packed tensor) is quantized on its own. {@link #codes()} is the
 * {@code F8_E4M3} weight and {@link #scales()} the {@code F32} {@code weight_scale_inv}; both are lazy. Streaming
 * the codes computes every scale on the way and keeps them (a few bytes per 16 K weights), so a writer that
 * streams the codes before the scales reads the source once.
 */
public final class Fp8BlockQuantized {
  private static final ValueLayout.OfFloat LITTLE_ENDIAN_FLOAT =
      ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Tensor source;
  private final Fp8BlockQuantizer quantizer;
  private final int rows;
  private final int columns;
  private final int scaleRows;
  private final int scaleColumns;
  private volatile float[] scaleValues;

  public Fp8BlockQuantized(Tensor source, Fp8BlockQuantizer quantizer) {
    if (!source.dtype().isFloating() || source.shape().rank() < 2) {
      throw new IllegalArgumentException("FP8 block quantization needs a floating tensor of rank >= 2, got "
          + source.dtype() + source.shape());
    }
    int rank = source.shape().rank();
    this.source = source;
    this.quantizer = quantizer;
    this.rows = Math.toIntExact(source.shape().dim(rank - 2));
    this.columns = Math.toIntExact(source.shape().dim(rank - 1));
    this.scaleRows = (int) Fp8BlockQuantizer.blockCount(rows, quantizer.blockRows());
    this.scaleColumns = (int) Fp8BlockQuantizer.blockCount(columns, quantizer.blockColumns());
  }

  public Tensor source() {
    return source;
  }

  public Fp8BlockQuantizer quantizer() {
    return quantizer;
  }

  /** The quantized weight: {@code F8_E4M3}, the source's shape. */
  public Tensor codes() {
    return new Fp8CodesTensor(this);
  }

  /** The per-block scales ({@code weight_scale_inv}): {@code F32}, the leading axes then the block grid. */
  public Tensor scales() {
    return new Fp8ScalesTensor(this);
  }

  Shape scaleShape() {
    int rank = source.shape().rank();
    return source.shape().withDim(rank - 2, scaleRows).withDim(rank - 1, scaleColumns);
  }

  /** The quantization of the sub-tensor at {@code index} of a leading (non-block) axis 0. */
  Fp8BlockQuantized selectLeading(long index) {
    requireLeadingAxis(0);
    return new Fp8BlockQuantized(source.select(index), quantizer);
  }

  Fp8BlockQuantized sliceLeading(int axis, long start, long length) {
    requireLeadingAxis(axis);
    return new Fp8BlockQuantized(source.slice(axis, start, length), quantizer);
  }

  private void requireLeadingAxis(int axis) {
    if (axis >= source.shape().rank() - 2) {
      throw new UnsupportedOperationException("an FP8-quantized tensor " + source.shape()
          + " can only be cut along its leading axes (blocks span the last two), not axis " + axis);
    }
  }

  /** Streams the codes band by band (a band = one block row of one matrix) and records the scales. */
  void streamCodes(Tensor.RunConsumer consumer) {
    float[] scales = new float[matrixCount() * scaleRows * scaleColumns];
    float[] bandScales = new float[scaleColumns];
    BandBuffers buffers = BandBuffers.acquire(quantizer.blockRows() * columns);
    try {
      forEachBand(buffers.values, (matrix, band, bandRows, values) -> {
        quantizer.quantizeBand(values, bandRows, columns, buffers.codes, bandScales);
        System.arraycopy(bandScales, 0, scales, (matrix * scaleRows + band) * scaleColumns, scaleColumns);
        consumer.accept(buffers.codeSegment, 0, (long) bandRows * columns, null);
      });
    } finally {
      buffers.release();
    }
    scaleValues = scales;
  }

  /** The scales as float32, row-major over the scale shape; computed from the source if not yet known. */
  float[] scaleValues() {
    float[] known = scaleValues;
    if (known != null) {
      return known;
    }
    float[] scales = new float[matrixCount() * scaleRows * scaleColumns];
    int blockColumns = quantizer.blockColumns();
    BandBuffers buffers = BandBuffers.acquire(quantizer.blockRows() * columns);
    try {
      forEachBand(buffers.values, (matrix, band, bandRows, values) -> {
        int base = (matrix * scaleRows + band) * scaleColumns;
        for (int block = 0; block < scaleColumns; block++) {
          int from = block * blockColumns;
          int to = Math.min(columns, from + blockColumns);
          scales[base + block] = quantizer.blockScale(values, bandRows, columns, from, to);
        }
      });
    } finally {
      buffers.release();
    }
    scaleValues = scales;
    return scales;
  }

  void streamScales(Tensor.RunConsumer consumer) {
    float[] scales = scaleValues();
    MemorySegment bytes = MemorySegment.ofArray(new byte[scales.length * Float.BYTES]);
    for (int index = 0; index < scales.length; index++) {
      bytes.setAtIndex(LITTLE_ENDIAN_FLOAT, index, scales[index]);
    }
    consumer.accept(bytes, 0, bytes.byteSize(), null);
  }

  private int matrixCount() {
    return Math.toIntExact(source.shape().numel() / ((long) rows * columns));
  }

  @FunctionalInterface
  private interface BandConsumer {
    void accept(int matrix, int band, int bandRows, float[] values);
  }

  /**
   * Visits every band of every matrix in row-major order, its values widened to float32 into {@code values} (at
   * least one band long; the same array every time, valid during the callback).
   */
  private void forEachBand(float[] values, BandConsumer consumer) {
    int rank = source.shape().rank();
    long[] leading = new long[rank - 2];
    int matrix = 0;
    do {
      Tensor matrixView = source;
      for (long index : leading) {
        matrixView = matrixView.select(index);
      }
      for (int band = 0; band < scaleRows; band++) {
        int firstRow = band * quantizer.blockRows();
        int bandRows = Math.min(quantizer.blockRows(), rows - firstRow);
        readFloats(matrixView.slice(0, firstRow, bandRows), values);
        consumer.accept(matrix, band, bandRows, values);
      }
      matrix++;
    } while (source.shape().advance(leading));
  }

  /** The elements of {@code tensor} widened to float32 (exactly) into {@code into}, in row-major order. */
  private static void readFloats(Tensor tensor, float[] into) {
    DType dtype = tensor.dtype();
    int elementSize = dtype.byteSize();
    int[] position = {0};
    tensor.forEachRun((segment, offset, length, _) -> {
      ChecksummedReads.observeInPlace(segment, offset, length);
      int count = Math.toIntExact(length / elementSize);
      widen(dtype, segment, offset, count, into, position[0]);
      position[0] += count;
    });
  }

  /** {@code count} elements of {@code dtype} at {@code offset} of {@code segment}, as float32 into {@code into}. */
  private static void widen(DType dtype, MemorySegment segment, long offset, int count, float[] into, int base) {
    switch (dtype) {
      case BF16 -> {
        for (int index = 0; index < count; index++) {
          into[base + index] = DType.bf16ToFloat(segment.get(StridedTensor.I16, offset + 2L * index));
        }
      }
      case F16 -> {
        for (int index = 0; index < count; index++) {
          into[base + index] = DType.f16ToFloat(segment.get(StridedTensor.I16, offset + 2L * index));
        }
      }
      case F32 -> MemorySegment.copy(segment, StridedTensor.F32, offset, into, base, count);
      case F64 -> {
        for (int index = 0; index < count; index++) {
          into[base + index] = (float) segment.get(StridedTensor.F64, offset + 8L * index);
        }
      }
      default -> throw new IllegalStateException("not a float dtype: " + dtype);
    }
  }

  /**
   * One thread's band buffers (a band's values widened to float32 and its codes), kept between tensors so that
   * quantizing allocates nothing per tensor: 5 bytes per element of the widest band the thread has quantized
   * (128 rows × a 4096-wide weight: 2.5 MiB). Allocated per tensor they were 0.8 GB of garbage in the FP8 export of a
   * 5.9 GB checkpoint (one layer of the 35B-A3B model's widths), and the young generation grew with it (issue 15). A buffer is taken out of its
   * thread's slot while in use, so a nested use on the same thread gets buffers of its own.
   */
  private static final class BandBuffers {
    private static final ThreadLocal<BandBuffers> IDLE = new ThreadLocal<>();

    float[] values = new float[0];
    byte[] codes = new byte[0];
    MemorySegment codeSegment = MemorySegment.ofArray(codes);

    /** This thread's idle buffers (or new ones), at least {@code elements} long. */
    static BandBuffers acquire(int elements) {
      BandBuffers buffers = IDLE.get();
      if (buffers == null) {
        buffers = new BandBuffers();
      } else {
        IDLE.remove();
      }
      if (buffers.values.length < elements) {
        buffers.values = new float[elements];
        buffers.codes = new byte[elements];
        buffers.codeSegment = MemorySegment.ofArray(buffers.codes);
      }
      return buffers;
    }

    /** Puts the buffers back into this thread's slot. */
    void release() {
      IDLE.set(this);
    }
  }
}
