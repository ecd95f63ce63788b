package dev.megabridge.core.mapping;

import static dev.megabridge.core.mapping.TestTensors.randomBits;
import static dev.megabridge.core.mapping.TestTensors.randomValues;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.mapping.PackedExpertMapping.Projection;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code toHf(toMegatron(x))} is bit-identical for every mapping, split size and float dtype; layouts that do
 * not divide a shape fail with a {@link LayoutException} naming the dimension; the ±1 norm shift rounds once.
 */
class MappingRoundTripTest {

  /** A mapping with HF tensors for it, made from a seed and dtype. */
  record Case(String name, ParamMapping mapping, HfFactory hf) {
    @Override
    public String toString() {
      return name;
    }
  }

  @FunctionalInterface
  interface HfFactory {
    Map<String, Tensor> make(DType dtype, long seed);
  }

  private static HfFactory single(long... dims) {
    return (dtype, seed) -> Map.of(ParamMapping.TENSOR, randomBits(dtype, seed, dims));
  }

  private static HfFactory roles(List<String> names, List<long[]> shapes) {
    return (dtype, seed) -> {
      Map<String, Tensor> out = new LinkedHashMap<>();
      for (int index = 0; index < names.size(); index++) {
        out.put(names.get(index), randomBits(dtype, seed + index, shapes.get(index)));
      }
      return out;
    };
  }

  static List<Case> cases() {
    return List.of(
        new Case("column 2-D", new ColumnMapping("m", "h"), single(16, 3)),
        new Case("column 1-D", new ColumnMapping("m", "h"), single(16)),
        new Case("row 2-D", new RowMapping("m", "h"), single(3, 16)),
        new Case("row 1-D", new RowMapping("m", "h"), single(5)),
        new Case("replicated", new ReplicatedMapping("m", "h"), single(4, 7)),
        new Case("gated qkv", new GatedQkvMapping("m", "q", "k", "v", 16, 8, 2),
            roles(List.of("q", "k", "v"), List.of(new long[] {64, 3}, new long[] {16, 3}, new long[] {16, 3}))),
        new Case("vision qkv weight", new VisionQkvMapping("m", "h", 8, 2), single(48, 5)),
        new Case("vision qkv bias", new VisionQkvMapping("m", "h", 8, 2), single(48)),
        new Case("gated mlp", new GatedMlpMapping("m", "g", "u"),
            roles(List.of("gate", "up"), List.of(new long[] {16, 3}, new long[] {16, 3}))),
        new Case("gdn in_proj", new GdnInProjMapping("m", "qkv", "z", "b", "a", new GdnHeads(8, 16, 2, 3)),
            roles(List.of("qkv", "z", "b", "a"),
                List.of(new long[] {80, 3}, new long[] {48, 3}, new long[] {16, 3}, new long[] {16, 3}))),
        new Case("gdn conv1d", new GdnConv1dMapping("m", "h", new GdnHeads(8, 16, 2, 3)), single(80, 1, 4)),
        new Case("gdn conv1d bias", new GdnConv1dMapping("m.bias", "h", new GdnHeads(8, 16, 2, 3)), single(80)));
  }

  static Stream<Arguments> casesBySplitAndDtype() {
    List<Arguments> out = new ArrayList<>();
    for (Case c : cases()) {
      for (DType dtype : List.of(DType.F32, DType.BF16, DType.F16)) {
        out.add(Arguments.of(c, dtype));
      }
    }
    return out.stream();
  }

  private static List<Tensor> shards(ParamMapping mapping, Map<String, Tensor> hf, int splitSize) {
    List<Tensor> shards = new ArrayList<>();
    for (int rank = 0; rank < splitSize; rank++) {
      shards.add(mapping.toMegatron(hf, splitSize, rank).materialize());
    }
    return shards;
  }

  private static void assertSameBytes(Map<String, Tensor> expected, Map<String, Tensor> actual) {
    assertThat(actual.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
    expected.forEach((role, tensor) -> {
      Tensor back = actual.get(role);
      assertThat(back.dtype()).as(role).isEqualTo(tensor.dtype());
      assertThat(back.shape()).as(role).isEqualTo(tensor.shape());
      assertThat(back.toByteArray()).as(role).isEqualTo(tensor.toByteArray());
    });
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("casesBySplitAndDtype")
  void roundTripIsBitIdentical(Case c, DType dtype) {
    for (int splitSize : List.of(1, 2, 4, 8)) {
      Map<String, Tensor> hf = c.hf().make(dtype, 17L * splitSize + dtype.ordinal());
      List<Tensor> shards = shards(c.mapping(), hf, splitSize);
      long total = 0;
      for (Tensor shard : shards) {
        assertThat(shard.dtype()).isEqualTo(dtype);
        total += shard.numel();
      }
      long hfTotal = hf.values().stream().mapToLong(Tensor::numel).sum();
      if (!(c.mapping() instanceof ReplicatedMapping) && !(c.name().equals("row 1-D"))) {
        assertThat(total).as("split mappings hold each element exactly once").isEqualTo(hfTotal);
      }
      assertSameBytes(hf, c.mapping().toHf(shards));
    }
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
  void packedExpertsRoundTripPerExpertAndStack(DType dtype) {
    int experts = 4;
    StridedTensor gateUp = randomBits(dtype, 5, experts, 16, 3);
    StridedTensor down = randomBits(dtype, 6, experts, 3, 8);
    for (int s : List.of(1, 2, 4, 8)) {
      List<Tensor> fc1 = new ArrayList<>();
      List<Tensor> fc2 = new ArrayList<>();
      for (int e = 0; e < experts; e++) {
        ParamMapping g = new PackedExpertMapping("d.experts.linear_fc1.weight*", "h.gate_up_proj", Projection.GATE_UP)
            .resolve(List.of(Integer.toString(e)));
        ParamMapping d = new PackedExpertMapping("d.experts.linear_fc2.weight*", "h.down_proj", Projection.DOWN)
            .resolve(List.of(Integer.toString(e)));
        assertThat(g.megatronParam()).isEqualTo("d.experts.linear_fc1.weight" + e);
        assertThat(g.isGroupedExport()).isTrue();
        fc1.add(g.toHf(shards(g, Map.of(ParamMapping.TENSOR, gateUp), s)).get(ParamMapping.TENSOR));
        fc2.add(d.toHf(shards(d, Map.of(ParamMapping.TENSOR, down), s)).get(ParamMapping.TENSOR));
      }
      assertThat(Tensor.stack(fc1).toByteArray()).isEqualTo(gateUp.toByteArray());
      assertThat(Tensor.stack(fc2).toByteArray()).isEqualTo(down.toByteArray());
    }
  }

  // ---- zero-centred norm (spec §3.8) --------------------------------------------------------------------

  /** Independent round-to-nearest-even of an fp32 value to bf16 bits (NaN-free inputs). */
  private static short bf16Rne(float value) {
    int bits = Float.floatToRawIntBits(value);
    int down = bits & 0xFFFF0000;
    int up = down + 0x10000;
    double distanceDown = Math.abs((double) value - Float.intBitsToFloat(down));
    double distanceUp = Math.abs((double) Float.intBitsToFloat(up) - value);
    if (distanceDown < distanceUp || (distanceDown == distanceUp && ((down >>> 16) & 1) == 0)) {
      return (short) (down >>> 16);
    }
    return (short) (up >>> 16);
  }

  private static float read(Tensor tensor, int index) {
    return ((StridedTensor) tensor.materialize()).getFloat(index);
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
  void normShiftIsComputedInFp32AndRoundedOnce(DType dtype) {
    ZeroCenteredNormMapping mapping = new ZeroCenteredNormMapping("m.out_norm.weight", "h.norm.weight");
    // Wide range, including values whose shift is inexact in the narrow dtypes.
    StridedTensor hf = randomValues(dtype, 99, -3, 3, 257);
    Tensor meg = mapping.toMegatron(Map.of(ParamMapping.TENSOR, hf), 4, 3).materialize();
    Tensor back = mapping.toHf(List.of(meg, meg)).get(ParamMapping.TENSOR).materialize();
    assertThat(meg.dtype()).isEqualTo(dtype);
    assertThat(meg.shape()).isEqualTo(Shape.of(257));
    for (int index = 0; index < 257; index++) {
      float x = hf.getFloat(index);
      float shifted = x - 1f;
      float expectedMeg = switch (dtype) {
        case F32 -> shifted;
        case BF16 -> Float.intBitsToFloat(bf16Rne(shifted) << 16);
        default -> Float.float16ToFloat(Float.floatToFloat16(shifted));
      };
      assertThat(read(meg, index)).as("meg[%d] from %s", index, x).isEqualTo(expectedMeg);
      float unshifted = expectedMeg + 1f;
      float expectedHf = switch (dtype) {
        case F32 -> unshifted;
        case BF16 -> Float.intBitsToFloat(bf16Rne(unshifted) << 16);
        default -> Float.float16ToFloat(Float.floatToFloat16(unshifted));
      };
      assertThat(read(back, index)).as("hf[%d]", index).isEqualTo(expectedHf);
    }
  }

  @ParameterizedTest
  @EnumSource(value = DType.class, names = {"F32", "BF16", "F16"})
  void normRoundTripIsExactForWeightsNearOne(DType dtype) {
    ZeroCenteredNormMapping mapping = new ZeroCenteredNormMapping("m", "h");
    StridedTensor hf = randomValues(dtype, 7, 0.5, 2.0, 300);
    Tensor meg = mapping.toMegatron(Map.of(ParamMapping.TENSOR, hf), 2, 1).materialize();
    assertThat(mapping.toHf(List.of(meg, meg)).get(ParamMapping.TENSOR).toByteArray()).isEqualTo(hf.toByteArray());
  }

  @Test
  void bf16ShiftMatchesHandComputedValues() {
    // 1.5 − 1 = 0.5 exactly; 0.00390625 (2^-8) − 1 = −0.99609375 exactly representable in bf16 (8 bits).
    // 0x3FC0 = 1.5, 0x3B80 = 2^-8, 0x3A80 = 2^-10 (little-endian bytes below).
    // 0.0009765625 (2^-10) − 1 = −0.9990234375 needs 10 bits: rounds to −1.0 (tie-free, nearest).
    float[] expected = {0.5f, -0.99609375f, -1.0f};
    StridedTensor hf = StridedTensor.contiguous(DType.BF16, Shape.of(3),
        java.lang.foreign.MemorySegment.ofArray(new byte[] {(byte) 0xC0, 0x3F, (byte) 0x80, 0x3B, (byte) 0x80, 0x3A}));
    assertThat(hf.getFloat(0)).isEqualTo(1.5f);
    Tensor meg = new ZeroCenteredNormMapping("m", "h").toMegatron(Map.of(ParamMapping.TENSOR, hf), 1, 0);
    for (int index = 0; index < 3; index++) {
      assertThat(read(meg, index)).isEqualTo(expected[index]);
    }
  }

  // ---- layouts that do not divide ---------------------------------------------------------------------------

  static Stream<Arguments> nonDividing() {
    return Stream.of(
        Arguments.of(new ColumnMapping("m", "h.weight"), Map.of("tensor", randomBits(DType.F32, 1, 10, 2)), 4,
            "dim 0 of h.weight"),
        Arguments.of(new RowMapping("m", "h.weight"), Map.of("tensor", randomBits(DType.F32, 1, 2, 10)), 4,
            "dim 1 of h.weight"),
        Arguments.of(new GatedQkvMapping("m", "q", "k", "v", 12, 4, 2),
            Map.of("q", randomBits(DType.F32, 1, 48, 2), "k", randomBits(DType.F32, 1, 8, 2), "v",
                randomBits(DType.F32, 1, 8, 2)), 8, "num_query_groups"),
        Arguments.of(new VisionQkvMapping("m", "h", 6, 2), Map.of("tensor", randomBits(DType.F32, 1, 36, 2)), 4,
            "num_heads"),
        Arguments.of(new GatedMlpMapping("m", "g", "u"),
            Map.of("gate", randomBits(DType.F32, 1, 6, 2), "up", randomBits(DType.F32, 1, 6, 2)), 4, "gate/up"),
        Arguments.of(new GdnInProjMapping("m", "qkv", "z", "b", "a", new GdnHeads(2, 4, 2, 2)),
            Map.of("qkv", randomBits(DType.F32, 1, 16, 2), "z", randomBits(DType.F32, 1, 8, 2), "b",
                randomBits(DType.F32, 1, 4, 2), "a", randomBits(DType.F32, 1, 4, 2)), 4, "linear_num_key_heads"),
        Arguments.of(new GdnConv1dMapping("m", "h", new GdnHeads(2, 4, 2, 2)),
            Map.of("tensor", randomBits(DType.F32, 1, 16, 1, 4)),
            4, "linear_num_key_heads"),
        Arguments.of(new PackedExpertMapping("m.weight*", "h.gate_up_proj", Projection.GATE_UP).resolve(List.of("1")),
            Map.of("tensor", randomBits(DType.F32, 1, 2, 12, 2)), 4, "gate/up"),
        Arguments.of(new PackedExpertMapping("m.weight*", "h.down_proj", Projection.DOWN).resolve(List.of("1")),
            Map.of("tensor", randomBits(DType.F32, 1, 2, 2, 6)), 4, "dim 2 of h.down_proj"));
  }

  @ParameterizedTest(name = "{0} split {2}")
  @MethodSource("nonDividing")
  void nonDividingLayoutIsRejectedNamingTheDimension(ParamMapping mapping, Map<String, Tensor> hf, int split,
      String dimension) {
    assertThatThrownBy(() -> mapping.toMegatron(hf, split, 0)).isInstanceOf(LayoutException.class)
        .hasMessageContaining(dimension).hasMessageContaining(Integer.toString(split));
  }

  @Test
  void wrongHfShapesAreRejected() {
    GatedQkvMapping qkv = new GatedQkvMapping("m", "h.q", "h.k", "h.v", 4, 2, 2);
    assertThatThrownBy(() -> qkv.toMegatron(Map.of("q", randomBits(DType.F32, 1, 16, 2), "k",
        randomBits(DType.F32, 1, 6, 2), "v", randomBits(DType.F32, 1, 4, 2)), 1, 0))
        .isInstanceOf(ShapeMismatchException.class).hasMessageContaining("h.k");
    GatedMlpMapping mlp = new GatedMlpMapping("m", "h.gate", "h.up");
    assertThatThrownBy(() -> mlp.toMegatron(Map.of("gate", randomBits(DType.F32, 1, 4, 2), "up",
        randomBits(DType.F32, 1, 6, 2)), 1, 0)).isInstanceOf(ShapeMismatchException.class).hasMessageContaining("h.up");
    GdnInProjMapping gdn = new GdnInProjMapping("m", "h.qkv", "h.z", "h.b", "h.a", new GdnHeads(2, 4, 2, 2));
    assertThatThrownBy(() -> gdn.toMegatron(Map.of("qkv", randomBits(DType.F32, 1, 16, 2), "z",
        randomBits(DType.F32, 1, 8, 2), "b", randomBits(DType.F32, 1, 3, 2), "a", randomBits(DType.F32, 1, 4, 2)), 1, 0))
        .isInstanceOf(ShapeMismatchException.class).hasMessageContaining("h.b");
    ParamMapping expert = new PackedExpertMapping("m.weight*", "h.gate_up_proj", Projection.GATE_UP)
        .resolve(List.of("5"));
    assertThatThrownBy(() -> expert.toMegatron(Map.of("tensor", randomBits(DType.F32, 1, 4, 8, 2)), 1, 0))
        .hasMessageContaining("expert 5");
  }
}
