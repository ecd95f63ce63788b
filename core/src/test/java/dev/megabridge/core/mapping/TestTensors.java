package dev.megabridge.core.mapping;

import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Test tensors: index-valued fp32 tensors and seeded random tensors of any float dtype. */
public final class TestTensors {
  private TestTensors() {}

  /** Role bases keep the values of up to four roles apart (each role holds < 2^20 elements). */
  public static final float ROLE_STRIDE = 1 << 20;

  /** fp32 tensor whose element k holds {@code base + k} (exact: every value stays below 2^24). */
  public static StridedTensor indexed(float base, long... dims) {
    Shape shape = Shape.of(dims);
    float[] values = new float[Math.toIntExact(shape.numel())];
    if (base + values.length >= (1 << 24)) {
      throw new IllegalArgumentException("values would not be exact in fp32");
    }
    for (int index = 0; index < values.length; index++) {
      values[index] = base + index;
    }
    return Tensor.ofFloats(shape, values);
  }

  /** Random bit patterns of {@code dtype} (any byte sequence is a valid tensor for slicing). */
  public static StridedTensor randomBits(DType dtype, long seed, long... dims) {
    Shape shape = Shape.of(dims);
    byte[] bytes = new byte[Math.toIntExact(shape.numel() * dtype.byteSize())];
    new SplittableRandom(seed).nextBytes(bytes);
    return StridedTensor.contiguous(dtype, shape, MemorySegment.ofArray(bytes));
  }

  /** Random finite values in {@code [low, high)} stored in {@code dtype} (rounded once from a double). */
  public static StridedTensor randomValues(DType dtype, long seed, double low, double high, long... dims) {
    Shape shape = Shape.of(dims);
    int count = Math.toIntExact(shape.numel());
    SplittableRandom random = new SplittableRandom(seed);
    MemorySegment segment = MemorySegment.ofArray(new byte[count * dtype.byteSize()]);
    for (int index = 0; index < count; index++) {
      float value = (float) random.nextDouble(low, high);
      switch (dtype) {
        case F32 -> segment.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, index, value);
        case BF16 -> segment.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, index,
            (short) (Float.floatToRawIntBits(value) >>> 16));
        case F16 -> segment.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, index, Float.floatToFloat16(value));
        default -> throw new IllegalArgumentException(dtype.toString());
      }
    }
    return StridedTensor.contiguous(dtype, shape, segment);
  }
}
