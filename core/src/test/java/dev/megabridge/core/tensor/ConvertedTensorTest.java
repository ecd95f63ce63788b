package dev.megabridge.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;

/**
 * {@link ConvertedTensor}: every element becomes {@code round_target(float(x) + addend)} with the float sum
 * computed in fp32 and the rounding done by {@link Ieee754Reference}; checked across all pairs of floating
 * dtypes, over views, and across the internal chunk boundary.
 */
class ConvertedTensorTest {

  private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final List<DType> FLOATING = List.of(DType.F64, DType.F32, DType.F16, DType.BF16);

  /** Random raw elements of {@code dtype} (any bit pattern: NaN, infinities, subnormals included). */
  private static StridedTensor randomTensor(RandomGenerator random, DType dtype, Shape shape) {
    byte[] bytes = new byte[Math.toIntExact(shape.numel() * dtype.byteSize())];
    random.nextBytes(bytes);
    if (dtype == DType.F32 || dtype == DType.F64) {
      // Also values in the narrow formats' range, where the rounding is interesting.
      MemorySegment segment = MemorySegment.ofArray(bytes);
      for (long index = 0; index < shape.numel(); index += 2) {
        float value = Float.intBitsToFloat((random.nextInt() & 0x807FFFFF) | (random.nextInt(95, 150) << 23));
        if (dtype == DType.F32) {
          segment.set(F32, index * 4, value);
        } else {
          segment.set(F64, index * 8, value + random.nextDouble() * Math.ulp(value));
        }
      }
    }
    return StridedTensor.contiguous(dtype, shape, MemorySegment.ofArray(bytes));
  }

  /** Element {@code index} of a dense array of {@code dtype} as the fp32 the conversion starts from. */
  private static float sourceValue(MemorySegment data, DType dtype, long index) {
    return switch (dtype) {
      case F64 -> (float) data.get(F64, index * 8);
      case F32 -> data.get(F32, index * 4);
      case F16 -> (float) Ieee754Reference.F16.decode(data.get(I16, index * 2) & 0xFFFF);
      case BF16 -> (float) Ieee754Reference.BF16.decode(data.get(I16, index * 2) & 0xFFFF);
      default -> throw new AssertionError(dtype);
    };
  }

  private static void assertConverted(Tensor source, Tensor converted, DType target, float addend, String context) {
    MemorySegment in = MemorySegment.ofArray(source.toByteArray());
    MemorySegment out = MemorySegment.ofArray(converted.toByteArray());
    assertThat(converted.shape()).isEqualTo(source.shape());
    assertThat(out.byteSize()).isEqualTo(source.numel() * target.byteSize());
    for (long index = 0; index < source.numel(); index++) {
      float sum = sourceValue(in, source.dtype(), index) + addend;
      String what = context + " element " + index + " (" + sum + ")";
      switch (target) {
        // doubleToLongBits / floatToIntBits: all NaNs compare equal, -0.0 differs from +0.0.
        case F64 -> assertThat(Double.doubleToLongBits(out.get(F64, index * 8))).as(what)
            .isEqualTo(Double.doubleToLongBits(sum));
        case F32 -> assertThat(Float.floatToIntBits(out.get(F32, index * 4))).as(what)
            .isEqualTo(Float.floatToIntBits(sum));
        case F16, BF16 -> {
          Ieee754Reference format = target == DType.F16 ? Ieee754Reference.F16 : Ieee754Reference.BF16;
          int actual = out.get(I16, index * 2) & 0xFFFF;
          if (Float.isNaN(sum)) {
            assertThat(format.isNaN(actual)).as(what).isTrue();
          } else {
            assertThat(actual).as(what).isEqualTo(format.round(sum));
          }
        }
        default -> throw new AssertionError(target);
      }
    }
  }

  @Test
  void everyFloatingPairConvertsElementWise() {
    long seed = 0xC0_4E47L;
    RandomGenerator random = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    for (DType from : FLOATING) {
      for (DType to : FLOATING) {
        for (float addend : new float[] {0f, 1f, -0.5f}) {
          StridedTensor source = randomTensor(random, from, Shape.of(7, 33));
          String context = "seed " + seed + " " + from + "->" + to + " +" + addend;
          Tensor converted = source.convert(to, addend);
          if (from == to && addend == 0f) {
            assertThat(converted).as(context).isSameAs(source); // no conversion at all: bits kept
          } else {
            assertConverted(source, converted, to, addend, context);
          }
        }
      }
    }
  }

  @Test
  void conversionCrossesItsChunkBoundaryAndFollowsViews() {
    RandomGenerator random = RandomGeneratorFactory.of("L64X128MixRandom").create(99);
    // 3 × 20000 elements: more than one internal chunk (16384) per run, and runs of a strided view.
    StridedTensor source = randomTensor(random, DType.F32, Shape.of(3, 20_000));
    assertConverted(source, source.convert(DType.BF16, 1f), DType.BF16, 1f, "dense");
    Tensor view = source.slice(1, 100, 19_000).select(2);
    assertConverted(view, view.convert(DType.F16), DType.F16, 0f, "view");
    // Views of the conversion equal conversions of the view.
    Tensor converted = source.convert(DType.BF16);
    assertThat(converted.slice(1, 5, 7).toByteArray())
        .isEqualTo(source.slice(1, 5, 7).convert(DType.BF16).toByteArray());
    assertThat(converted.unsqueeze0().select(0).toByteArray()).isEqualTo(converted.toByteArray());
  }

  @Test
  void identityConversionIsTheSameTensorAndIntegersAreRefused() {
    StridedTensor source = Tensor.ofFloats(Shape.of(2), 1f, 2f);
    assertThat(source.convert(DType.F32)).isSameAs(source);
    assertThat(source.convert(DType.F32, 1f)).isInstanceOf(ConvertedTensor.class);
    StridedTensor integers = StridedTensor.contiguous(DType.I32, Shape.of(2), MemorySegment.ofArray(new byte[8]));
    assertThatThrownBy(() -> integers.convert(DType.F32)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> source.convert(DType.I8)).isInstanceOf(IllegalArgumentException.class);
  }
}
