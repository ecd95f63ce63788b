package dev.megabridge.core.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The FP8 block loops with the Vector API: the same float32 division and clamp as {@link ScalarFp8Kernel}, and
 * {@link Fp8E4m3#fromFloat}'s three cases (subnormal rounding by float addition, integer rounding of normals,
 * NaN past 480) computed for every lane and blended. Loaded reflectively by {@link Fp8Kernels}.
 */
public final class VectorFp8Kernel implements Fp8Kernel {
  private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Byte> BYTES =
      VectorSpecies.of(byte.class, VectorShape.forBitSize(FLOATS.length() * Byte.SIZE));
  private static final int LANES = FLOATS.length();
  private static final int NAN_THRESHOLD_BITS = Float.floatToRawIntBits(480f);
  private static final int MIN_NORMAL_BITS = Float.floatToRawIntBits(0x1p-6f);
  private static final float SUBNORMAL_ROUNDER = 0x1p14f;
  private static final int SUBNORMAL_ROUNDER_BITS = Float.floatToRawIntBits(SUBNORMAL_ROUNDER);
  private static final int REBIAS = (7 - 127) << 23;

  @Override
  public float amax(float[] values, int rows, int columns, int from, int to) {
    FloatVector lanes = FloatVector.zero(FLOATS);
    float amax = 0f;
    for (int row = 0; row < rows; row++) {
      int base = row * columns;
      int column = from;
      for (; column + LANES <= to; column += LANES) {
        lanes = lanes.max(FloatVector.fromArray(FLOATS, values, base + column).abs());
      }
      for (; column < to; column++) {
        amax = Math.max(amax, Math.abs(values[base + column]));
      }
    }
    return Math.max(amax, lanes.reduceLanes(VectorOperators.MAX));
  }

  @Override
  public void quantize(float[] values, int rows, int columns, int from, int to, float scale, byte[] codes) {
    for (int row = 0; row < rows; row++) {
      int base = row * columns;
      int column = from;
      for (; column + LANES <= to; column += LANES) {
        FloatVector scaled = FloatVector.fromArray(FLOATS, values, base + column).div(scale)
            .max(-Fp8E4m3.MAX_FINITE).min(Fp8E4m3.MAX_FINITE);
        encode(scaled).intoArray(codes, base + column);
      }
      for (; column < to; column++) {
        codes[base + column] = Fp8BlockQuantizer.quantize(values[base + column], scale);
      }
    }
  }

  private static ByteVector encode(FloatVector value) {
    IntVector bits = value.reinterpretAsInts();
    IntVector sign = bits.lanewise(VectorOperators.LSHR, 24).and(0x80);
    IntVector magnitude = bits.and(0x7FFFFFFF);
    IntVector oddMantissa = magnitude.lanewise(VectorOperators.LSHR, 20).and(1);
    IntVector code = magnitude.add(REBIAS + 0x7FFFF).add(oddMantissa).lanewise(VectorOperators.LSHR, 20);
    IntVector subnormal = value.abs().add(SUBNORMAL_ROUNDER).reinterpretAsInts().sub(SUBNORMAL_ROUNDER_BITS);
    VectorMask<Integer> isSubnormal = magnitude.compare(VectorOperators.LT, MIN_NORMAL_BITS);
    VectorMask<Integer> isNan = magnitude.compare(VectorOperators.GE, NAN_THRESHOLD_BITS);
    code = code.blend(subnormal, isSubnormal).blend(Fp8E4m3.NAN, isNan).or(sign);
    return (ByteVector) code.convertShape(VectorOperators.I2B, BYTES, 0);
  }
}
