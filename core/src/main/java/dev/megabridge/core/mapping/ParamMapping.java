package dev.megabridge.core.mapping;

import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One row of a mapping table: a Megatron parameter (pattern or concrete name) and the HF tensor(s) it is
 * made of, with the exact transform of docs/mappings.md §2 in both directions. Every mapping is a pure
 * function of lazy tensors: {@link #toMegatron} builds one split rank's shard from the full HF tensors,
 * {@link #toHf} rebuilds the HF tensors from the shards of all split ranks. Both only slice and
 * concatenate (plus the ±1 of {@link ZeroCenteredNormMapping}), so {@code toHf(toMegatron(x)) == x} bit for bit.
 *
 * <p>The split group is the tensor-parallel group, or the expert-tensor-parallel group for expert
 * parameters ({@link #isExpert()}, docs/mappings.md §2); the engine picks the size.
 */
public sealed interface ParamMapping
    permits ColumnMapping, RowMapping, ReplicatedMapping, ZeroCenteredNormMapping, GatedQkvMapping,
        VisionQkvMapping, GatedMlpMapping, GdnInProjMapping, GdnConv1dMapping, PackedExpertMapping, PaddedVocabMapping {

  /** Role name of single-tensor mappings. */
  String TENSOR = "tensor";

  String megatronParam();

  /** HF pattern (or concrete name) per role, in role order. */
  Map<String, String> hfParams();

  /** The same mapping with other names; used by {@link #resolve} and by registry aliases. */
  ParamMapping withNames(String megatronParam, Map<String, String> hfParams);

  /** The local shard of split rank {@code splitRank} out of {@code splitSize}. */
  Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank);

  /** The HF tensors by role, rebuilt from the shards of split ranks 0..n-1. */
  Map<String, Tensor> toHf(List<Tensor> shards);

  /** Short type name for {@code describe()}. */
  default String kind() {
    return getClass().getSimpleName();
  }

  /** Expert parameter (split by ETP, distributed by EP): the rule of docs/mappings.md §2 on the Megatron name. */
  default boolean isExpert() {
    return megatronParam().contains(".experts.linear_fc") || megatronParam().contains(".experts.local_experts.");
  }

  /**
   * Packed-expert mappings: the HF tensor holds all experts, each mapping instance (resolved with one
   * expert id) yields one expert's slice, and export stacks the experts along a new axis 0.
   */
  default boolean isGroupedExport() {
    return false;
  }

  /** Wildcards the Megatron side has beyond the HF side (1 for packed experts, else 0). */
  default int extraMegatronWildcards() {
    return 0;
  }

  /** Substitutes captures of a Megatron (or HF) match into both sides (docs/mappings.md §1.2). */
  default ParamMapping resolve(List<String> captures) {
    Map<String, String> hf = new LinkedHashMap<>();
    hfParams().forEach((role, pattern) -> hf.put(role, NamePattern.substitute(pattern, captures)));
    return withNames(NamePattern.substitute(megatronParam(), captures), hf);
  }

  /** The local shard shape for HF shapes by role, without touching data. */
  default Shape megatronShape(Map<String, Shape> hfShapes, int splitSize, int splitRank) {
    Map<String, Tensor> fake = new LinkedHashMap<>();
    hfShapes.forEach((role, shape) -> fake.put(role, shapeOnly(shape)));
    return toMegatron(fake, splitSize, splitRank).shape();
  }

  /** A tensor with a shape and no data, for shape arithmetic only (never streamed). */
  static Tensor shapeOnly(Shape shape) {
    return new StridedTensor(MemorySegment.NULL, 0, DType.F32, shape, shape.contiguousStrides());
  }

  // ---- helpers shared by the implementations -------------------------------------------------------

  static Tensor role(ParamMapping mapping, Map<String, Tensor> hf, String role) {
    Tensor tensor = hf.get(role);
    if (tensor == null) {
      throw new MappingException(mapping.megatronParam() + ": HF tensor for role '" + role + "' ("
          + mapping.hfParams().get(role) + ") was not supplied");
    }
    return tensor;
  }

  static void requireRank(ParamMapping mapping, String role, Tensor tensor, int... ranks) {
    for (int rank : ranks) {
      if (tensor.shape().rank() == rank) {
        return;
      }
    }
    throw new ShapeMismatchException(mapping.hfParams().get(role) + ": expected a tensor of rank "
        + Arrays.toString(ranks) + ", got shape " + tensor.shape());
  }

  static void requireDivisible(ParamMapping mapping, String what, long value, int splitSize) {
    if (splitSize <= 0 || value % splitSize != 0) {
      throw new LayoutException(mapping.megatronParam() + ": " + what + " = " + value
          + " is not divisible by the split size " + splitSize);
    }
  }

  static void requireShape(ParamMapping mapping, String role, Tensor tensor, Shape expected) {
    if (!tensor.shape().equals(expected)) {
      throw new ShapeMismatchException(mapping.hfParams().get(role) + ": expected shape " + expected + ", got "
          + tensor.shape() + " (for " + mapping.megatronParam() + ")");
    }
  }

  static Map<String, String> single(String hf) {
    return Map.of(TENSOR, hf);
  }

  static void requireShards(ParamMapping mapping, List<Tensor> shards) {
    if (shards.isEmpty()) {
      throw new MappingException(mapping.megatronParam() + ": no shards to gather");
    }
    Tensor first = shards.getFirst();
    for (Tensor shard : shards) {
      if (!shard.shape().equals(first.shape()) || shard.dtype() != first.dtype()) {
        throw new ShapeMismatchException(mapping.megatronParam() + ": shards disagree: " + first.dtype()
            + first.shape() + " vs " + shard.dtype() + shard.shape());
      }
    }
  }
}
