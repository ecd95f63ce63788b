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
    for (int width = lanes.length / 2; width >= 4; width /= 2) {
      for (int lane = 0; lane < width; lane++) {
        lanes[lane] += lanes[lane + width];
      }
    }
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  }

  private static float weightScalar(MemorySegment data, long byteOffset, boolean bf16) {
    return bf16 ? DType.bf16ToFloat(data.get(BF16, byteOffset)) : data.get(F32, byteOffset);
  }

  @Override
  public void dotRows(WeightMatrix weight, int row, float[] x, int xOffset, int xStride, int tokens,
      float[] out, int outOffset, int outStride) {
    dotRowWindow(weight, row, 0, weight.columns(), x, xOffset, xStride, tokens, out, outOffset, outStride);
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
