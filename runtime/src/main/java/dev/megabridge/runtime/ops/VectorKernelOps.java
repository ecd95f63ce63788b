package dev.megabridge.runtime.ops;

import dev.megabridge.core.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels. Only loaded through {@link Kernels} after checking that {@code jdk.incubator.vector} is
 * readable. BF16 weights are widened in registers (shift the 16 bits into the high half of an int lane), never in
 * memory.
 *
 * <p>Summation order of a dot product (fixed, whatever the number of tokens processed together): two vector
 * accumulators take alternating chunks, a possible odd chunk goes to the first, the two are added and reduced,
 * then the scalar tail is added element by element with fma. Lanes are summed by the fixed tree of
 * {@link #sumLanes}, not {@code reduceLanes(ADD)}, whose floating-point order is unspecified and differs between
 * the intrinsic and the Java fallback (results would then depend on JIT timing, hence on thread scheduling).
 */
public final class VectorKernelOps implements KernelOps {

  /**
   * Species are static final constants: only then does C2 intrinsify the vector operations (species held in
   * instance fields make every operation take the boxed Java fallback, two orders of magnitude slower). The
   * system property {@code megabridge.vector.bits} (128, 256, 512) forces a narrower width, for testing.
   */
  private static final VectorSpecies<Float> floats = chooseFloatSpecies();
  private static final VectorSpecies<Short> shorts =
      VectorSpecies.of(short.class, VectorShape.forBitSize(floats.length() * 16));
  private static final VectorSpecies<Integer> ints =
      VectorSpecies.of(int.class, VectorShape.forBitSize(floats.length() * 32));

  private static VectorSpecies<Float> chooseFloatSpecies() {
    String forced = System.getProperty("megabridge.vector.bits");
    if (forced == null) {
      return FloatVector.SPECIES_PREFERRED;
    }
    int bits = Math.min(Integer.parseInt(forced), FloatVector.SPECIES_PREFERRED.vectorBitSize());
    return VectorSpecies.of(float.class, VectorShape.forBitSize(bits));
  }

  @Override
  public String name() {
    return "vector-" + floats.vectorBitSize();
  }

  private FloatVector weightChunk(MemorySegment data, long byteOffset, boolean bf16) {
    if (bf16) {
      IntVector widened = (IntVector) ShortVector.fromMemorySegment(shorts, data, byteOffset, ByteOrder.LITTLE_ENDIAN)
          .convertShape(VectorOperators.S2I, ints, 0);
      return widened.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
    return FloatVector.fromMemorySegment(floats, data, byteOffset, ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * The lanes summed as a fixed tree: the upper half is added onto the lower half until four lanes remain, then
   * {@code (l0 + l1) + (l2 + l3)}. Done on a spilled copy with scalar adds: the order is identical in the intrinsic
   * and the Java fallback, and it stays cheap when called once per short row piece (row-kind layers reduce eight
   * pieces per row); halving by {@code reinterpretShape} measured about 3x slower decode there.
   */
  private static float sumLanes(FloatVector vector) {
    float[] lanes = new float[vector.length()];
    vector.intoArray(lanes, 0);
    return sumLanes(lanes, 0, lanes.length);
  }

  /** {@link #sumLanes(FloatVector)}'s tree over {@code lanes[offset .. offset + count)} (overwritten). */
  private static float sumLanes(float[] lanes, int offset, int count) {
    for (int width = count / 2; width >= 4; width /= 2) {
      for (int lane = offset; lane < offset + width; lane++) {
        lanes[lane] += lanes[lane + width];
      }
    }
    return (lanes[offset] + lanes[offset + 1]) + (lanes[offset + 2] + lanes[offset + 3]);
  }

  private static float weightScalar(MemorySegment data, long byteOffset, boolean bf16) {
    return bf16 ? DType.bf16ToFloat(data.get(BF16, byteOffset)) : data.get(F32, byteOffset);
  }

  @Override
  public void dotRowWindow(WeightMatrix weight, int row, int columnStart, int length, float[] x, int xOffset,
      int xStride, int tokens, float[] out, int outOffset, int outStride) {
    int token = 0;
    for (; token + 4 <= tokens; token += 4) {
      dotRow4(weight, row, columnStart, length, x, xOffset + token * xStride, xStride, out,
          outOffset + token * outStride, outStride);
    }
    for (; token < tokens; token++) {
      out[outOffset + token * outStride] = dotRow1(weight, row, columnStart, length, x, xOffset + token * xStride);
    }
  }

  /** Row {@code row}, columns {@code [columnStart, columnStart + columns)}, against {@code x[start ..]}. */
  private float dotRow1(WeightMatrix weight, int row, int columnStart, int columns, float[] x, int start) {
    MemorySegment data = weight.data();
    boolean bf16 = weight.dtype() == DType.BF16;
    int elementBytes = weight.dtype().byteSize();
    long base = weight.rowOffset(row) + (long) columnStart * elementBytes;
    int lanes = floats.length();
    FloatVector acc0 = FloatVector.zero(floats);
    FloatVector acc1 = FloatVector.zero(floats);
    int i = 0;
    int pairBound = columns - columns % (2 * lanes);
    for (; i < pairBound; i += 2 * lanes) {
      acc0 = weightChunk(data, base + (long) i * elementBytes, bf16).fma(FloatVector.fromArray(floats, x, start + i), acc0);
      acc1 = weightChunk(data, base + (long) (i + lanes) * elementBytes, bf16)
          .fma(FloatVector.fromArray(floats, x, start + i + lanes), acc1);
    }
    if (i + lanes <= columns) {
      acc0 = weightChunk(data, base + (long) i * elementBytes, bf16).fma(FloatVector.fromArray(floats, x, start + i), acc0);
      i += lanes;
    }
    float sum = sumLanes(acc0.add(acc1));
    for (; i < columns; i++) {
      sum = Math.fma(weightScalar(data, base + (long) i * elementBytes, bf16), x[start + i], sum);
    }
    return sum;
  }

  /** Below this many tokens a row block is computed row by row ({@link #dotRowWindow}): widening would not pay. */
  private static final int BLOCK_MIN_TOKENS = 8;
  /** Rows and tokens of the microkernel tile: 2·2·4 accumulators + 4 inputs + 1 weight of the 32 AVX-512 registers. */
  private static final int TILE_ROWS = 2;
  private static final int TILE_TOKENS = 4;
  /** fp32 elements of one widened weight panel (512 KiB): it stays in L2 while every token streams past it. */
  private static final int PANEL_ELEMENTS = 1 << 17;
  /** Per-thread panel buffer, reused across calls (pool threads live as long as the model). */
  private static final ThreadLocal<float[]> PANEL = ThreadLocal.withInitial(() -> new float[0]);

  /**
   * Matrix × matrix: the rows are taken in panels of as many rows as fit {@link #PANEL_ELEMENTS} once widened to
   * fp32 (widened once, used by every token), and each panel is swept by a tile of {@value #TILE_ROWS} rows ×
   * {@value #TILE_TOKENS} tokens, so each loaded weight chunk serves four tokens and each loaded input chunk two
   * rows. Every (row, token) keeps the order of {@link #dotRow1}: its own two accumulators over alternating chunks of
   * the whole window, the odd chunk to the first, {@link #sumLanes}, then the scalar tail with fma; widening bf16 is
   * exact, so the values are those of {@link #dotRowWindow} bit for bit. Edge rows and tokens use {@link #dot}, the
   * same arithmetic on float arrays, one pair at a time.
   */
  @Override
  public void dotRowBlock(WeightMatrix weight, int rowStart, int rowEnd, int columnStart, int length, float[] x,
      int xOffset, int xStride, int tokens, float[] out, int outOffset, int outRowStride, int outStride) {
    if (tokens < BLOCK_MIN_TOKENS || length == 0) {
      KernelOps.super.dotRowBlock(weight, rowStart, rowEnd, columnStart, length, x, xOffset, xStride, tokens, out,
          outOffset, outRowStride, outStride);
      return;
    }
    int panelRows = Math.max(TILE_ROWS, PANEL_ELEMENTS / length / TILE_ROWS * TILE_ROWS);
    panelRows = Math.min(panelRows, rowEnd - rowStart);
    float[] panel = PANEL.get();
    if (panel.length < panelRows * length) {
      panel = new float[panelRows * length];
      PANEL.set(panel);
    }
    for (int first = rowStart; first < rowEnd; first += panelRows) {
      int rows = Math.min(panelRows, rowEnd - first);
      for (int row = 0; row < rows; row++) {
        widenRow(weight, first + row, columnStart, length, panel, row * length);
      }
      int fullRows = rows - rows % TILE_ROWS;
      int token = 0;
      for (; token + TILE_TOKENS <= tokens; token += TILE_TOKENS) {
        for (int row = 0; row < fullRows; row += TILE_ROWS) {
          panelTile(panel, row * length, length, x, xOffset + token * xStride, xStride, out,
              outOffset + (first - rowStart + row) * outRowStride + token * outStride, outRowStride, outStride);
        }
      }
      for (int row = 0; row < rows; row++) {
        int outRow = outOffset + (first - rowStart + row) * outRowStride;
        for (int t = row < fullRows ? token : 0; t < tokens; t++) {
          out[outRow + t * outStride] = dot(panel, row * length, x, xOffset + t * xStride, length);
        }
      }
    }
  }

  /** Weight row {@code row}, columns {@code [columnStart, columnStart + length)}, as fp32 into {@code panel}. */
  private void widenRow(WeightMatrix weight, int row, int columnStart, int length, float[] panel, int panelOffset) {
    MemorySegment data = weight.data();
    boolean bf16 = weight.dtype() == DType.BF16;
    int elementBytes = weight.dtype().byteSize();
    long base = weight.rowOffset(row) + (long) columnStart * elementBytes;
    if (!bf16) {
      MemorySegment.copy(data, F32, base, panel, panelOffset, length);
      return;
    }
    int i = 0;
    int bound = floats.loopBound(length);
    for (; i < bound; i += floats.length()) {
      weightChunk(data, base + 2L * i, true).intoArray(panel, panelOffset + i);
    }
    for (; i < length; i++) {
      panel[panelOffset + i] = weightScalar(data, base + 2L * i, true);
    }
  }

  /**
   * Two widened rows {@code panel[start + r·columns ..]} × four inputs {@code x[xStart + t·xStride ..]}: per pair
   * the arithmetic of {@link #dotRow1}; {@code aRT} takes the even chunks (and the odd last one), {@code bRT} the
   * odd chunks. Results go to {@code out[outStart + r·outRowStride + t·outStride]}. Sixteen accumulators: a tile of
   * 24 (4 × 3) measured 25 % slower, as the register allocator then spills.
   */
  private void panelTile(float[] panel, int start, int columns, float[] x, int xStart, int xStride, float[] out,
      int outStart, int outRowStride, int outStride) {
    int lanes = floats.length();
    int w0 = start;
    int w1 = start + columns;
    int s0 = xStart;
    int s1 = xStart + xStride;
    int s2 = xStart + 2 * xStride;
    int s3 = xStart + 3 * xStride;
    FloatVector a00 = FloatVector.zero(floats);
    FloatVector a01 = a00;
    FloatVector a02 = a00;
    FloatVector a03 = a00;
    FloatVector a10 = a00;
    FloatVector a11 = a00;
    FloatVector a12 = a00;
    FloatVector a13 = a00;
    FloatVector b00 = a00;
    FloatVector b01 = a00;
    FloatVector b02 = a00;
    FloatVector b03 = a00;
    FloatVector b10 = a00;
    FloatVector b11 = a00;
    FloatVector b12 = a00;
    FloatVector b13 = a00;
    int i = 0;
    int pairBound = columns - columns % (2 * lanes);
    for (; i < pairBound; i += 2 * lanes) {
      FloatVector x0 = FloatVector.fromArray(floats, x, s0 + i);
      FloatVector x1 = FloatVector.fromArray(floats, x, s1 + i);
      FloatVector x2 = FloatVector.fromArray(floats, x, s2 + i);
      FloatVector x3 = FloatVector.fromArray(floats, x, s3 + i);
      FloatVector w = FloatVector.fromArray(floats, panel, w0 + i);
      a00 = w.fma(x0, a00);
      a01 = w.fma(x1, a01);
      a02 = w.fma(x2, a02);
      a03 = w.fma(x3, a03);
      w = FloatVector.fromArray(floats, panel, w1 + i);
      a10 = w.fma(x0, a10);
      a11 = w.fma(x1, a11);
      a12 = w.fma(x2, a12);
      a13 = w.fma(x3, a13);
      int j = i + lanes;
      x0 = FloatVector.fromArray(floats, x, s0 + j);
      x1 = FloatVector.fromArray(floats, x, s1 + j);
      x2 = FloatVector.fromArray(floats, x, s2 + j);
      x3 = FloatVector.fromArray(floats, x, s3 + j);
      w = FloatVector.fromArray(floats, panel, w0 + j);
      b00 = w.fma(x0, b00);
      b01 = w.fma(x1, b01);
      b02 = w.fma(x2, b02);
      b03 = w.fma(x3, b03);
      w = FloatVector.fromArray(floats, panel, w1 + j);
      b10 = w.fma(x0, b10);
      b11 = w.fma(x1, b11);
      b12 = w.fma(x2, b12);
      b13 = w.fma(x3, b13);
    }
    if (i + lanes <= columns) {
      FloatVector x0 = FloatVector.fromArray(floats, x, s0 + i);
      FloatVector x1 = FloatVector.fromArray(floats, x, s1 + i);
      FloatVector x2 = FloatVector.fromArray(floats, x, s2 + i);
      FloatVector x3 = FloatVector.fromArray(floats, x, s3 + i);
      FloatVector w = FloatVector.fromArray(floats, panel, w0 + i);
      a00 = w.fma(x0, a00);
      a01 = w.fma(x1, a01);
      a02 = w.fma(x2, a02);
      a03 = w.fma(x3, a03);
      w = FloatVector.fromArray(floats, panel, w1 + i);
      a10 = w.fma(x0, a10);
      a11 = w.fma(x1, a11);
      a12 = w.fma(x2, a12);
      a13 = w.fma(x3, a13);
      i += lanes;
    }
    // Spilled here, summed from the array: passing the vectors to sumLanes(FloatVector) boxes each one once C2 stops
    // inlining into this large method (that measured slower than the multiply-adds themselves).
    float[] spill = new float[TILE_ROWS * TILE_TOKENS * lanes];
    a00.add(b00).intoArray(spill, 0);
    a01.add(b01).intoArray(spill, lanes);
    a02.add(b02).intoArray(spill, 2 * lanes);
    a03.add(b03).intoArray(spill, 3 * lanes);
    a10.add(b10).intoArray(spill, 4 * lanes);
    a11.add(b11).intoArray(spill, 5 * lanes);
    a12.add(b12).intoArray(spill, 6 * lanes);
    a13.add(b13).intoArray(spill, 7 * lanes);
    for (int r = 0; r < TILE_ROWS; r++) {
      int w = start + r * columns;
      for (int t = 0; t < TILE_TOKENS; t++) {
        float sum = sumLanes(spill, (r * TILE_TOKENS + t) * lanes, lanes);
        int s = xStart + t * xStride;
        for (int k = i; k < columns; k++) {
          sum = Math.fma(panel[w + k], x[s + k], sum);
        }
        out[outStart + r * outRowStride + t * outStride] = sum;
      }
    }
  }

  /**
   * One row after the other, never several rows interleaved: each row is then one sequential stream through
   * memory, which the hardware prefetchers follow at close to full read bandwidth. Streaming two or four rows side
   * by side (to share the input loads) measured 2-3x slower once the weights come from DRAM, as they do in decode.
   */
  @Override
  public void matvec(WeightMatrix weight, int rowStart, int rowEnd, float[] x, int xOffset, float[] out,
      int outOffset) {
    for (int row = rowStart; row < rowEnd; row++) {
      out[outOffset + row - rowStart] = dotRow1(weight, row, 0, weight.columns(), x, xOffset);
    }
  }

  /**
   * Four tokens at once over the columns {@code [columnStart, columnStart + columns)}: each weight chunk is loaded
   * (and widened) once for four input rows; per token the same order as {@link #dotRow1}.
   */
  private void dotRow4(WeightMatrix weight, int row, int columnStart, int columns, float[] x, int start, int xStride,
      float[] out, int outStart, int outStride) {
    MemorySegment data = weight.data();
    boolean bf16 = weight.dtype() == DType.BF16;
    int elementBytes = weight.dtype().byteSize();
    long base = weight.rowOffset(row) + (long) columnStart * elementBytes;
    int lanes = floats.length();
    int s0 = start;
    int s1 = start + xStride;
    int s2 = start + 2 * xStride;
    int s3 = start + 3 * xStride;
    FloatVector a0 = FloatVector.zero(floats);
    FloatVector a1 = a0;
    FloatVector a2 = a0;
    FloatVector a3 = a0;
    FloatVector b0 = a0;
    FloatVector b1 = a0;
    FloatVector b2 = a0;
    FloatVector b3 = a0;
    int i = 0;
    int pairBound = columns - columns % (2 * lanes);
    for (; i < pairBound; i += 2 * lanes) {
      FloatVector w = weightChunk(data, base + (long) i * elementBytes, bf16);
      a0 = w.fma(FloatVector.fromArray(floats, x, s0 + i), a0);
      a1 = w.fma(FloatVector.fromArray(floats, x, s1 + i), a1);
      a2 = w.fma(FloatVector.fromArray(floats, x, s2 + i), a2);
      a3 = w.fma(FloatVector.fromArray(floats, x, s3 + i), a3);
      int j = i + lanes;
      FloatVector v = weightChunk(data, base + (long) j * elementBytes, bf16);
      b0 = v.fma(FloatVector.fromArray(floats, x, s0 + j), b0);
      b1 = v.fma(FloatVector.fromArray(floats, x, s1 + j), b1);
      b2 = v.fma(FloatVector.fromArray(floats, x, s2 + j), b2);
      b3 = v.fma(FloatVector.fromArray(floats, x, s3 + j), b3);
    }
    if (i + lanes <= columns) {
      FloatVector w = weightChunk(data, base + (long) i * elementBytes, bf16);
      a0 = w.fma(FloatVector.fromArray(floats, x, s0 + i), a0);
      a1 = w.fma(FloatVector.fromArray(floats, x, s1 + i), a1);
      a2 = w.fma(FloatVector.fromArray(floats, x, s2 + i), a2);
      a3 = w.fma(FloatVector.fromArray(floats, x, s3 + i), a3);
      i += lanes;
    }
    float sum0 = sumLanes(a0.add(b0));
    float sum1 = sumLanes(a1.add(b1));
    float sum2 = sumLanes(a2.add(b2));
    float sum3 = sumLanes(a3.add(b3));
    for (; i < columns; i++) {
      float w = weightScalar(data, base + (long) i * elementBytes, bf16);
      sum0 = Math.fma(w, x[s0 + i], sum0);
      sum1 = Math.fma(w, x[s1 + i], sum1);
      sum2 = Math.fma(w, x[s2 + i], sum2);
      sum3 = Math.fma(w, x[s3 + i], sum3);
    }
    out[outStart] = sum0;
    out[outStart + outStride] = sum1;
    out[outStart + 2 * outStride] = sum2;
    out[outStart + 3 * outStride] = sum3;
  }

  @Override
  public float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
    int lanes = floats.length();
    FloatVector acc0 = FloatVector.zero(floats);
    FloatVector acc1 = FloatVector.zero(floats);
    int i = 0;
    int pairBound = length - length % (2 * lanes);
    for (; i < pairBound; i += 2 * lanes) {
      acc0 = FloatVector.fromArray(floats, a, aOffset + i).fma(FloatVector.fromArray(floats, b, bOffset + i), acc0);
      acc1 = FloatVector.fromArray(floats, a, aOffset + i + lanes)
          .fma(FloatVector.fromArray(floats, b, bOffset + i + lanes), acc1);
    }
    if (i + lanes <= length) {
      acc0 = FloatVector.fromArray(floats, a, aOffset + i).fma(FloatVector.fromArray(floats, b, bOffset + i), acc0);
      i += lanes;
    }
    float sum = sumLanes(acc0.add(acc1));
    for (; i < length; i++) {
      sum = Math.fma(a[aOffset + i], b[bOffset + i], sum);
    }
    return sum;
  }

  @Override
  public void axpy(float alpha, float[] x, int xOffset, float[] y, int yOffset, int length) {
    int i = 0;
    int bound = floats.loopBound(length);
    FloatVector scale = FloatVector.broadcast(floats, alpha);
    for (; i < bound; i += floats.length()) {
      FloatVector.fromArray(floats, x, xOffset + i).fma(scale, FloatVector.fromArray(floats, y, yOffset + i))
          .intoArray(y, yOffset + i);
    }
    for (; i < length; i++) {
      y[yOffset + i] = Math.fma(alpha, x[xOffset + i], y[yOffset + i]);
    }
  }

  @Override
  public void scale(float[] x, int offset, int length, float factor) {
    int i = 0;
    int bound = floats.loopBound(length);
    for (; i < bound; i += floats.length()) {
      FloatVector.fromArray(floats, x, offset + i).mul(factor).intoArray(x, offset + i);
    }
    for (; i < length; i++) {
      x[offset + i] *= factor;
    }
  }
}
