package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each row (or column) of one split rank's Megatron shard comes from, found by running the mapping itself
 * ({@link ParamMapping#toMegatron}, docs/mappings.md §2; docs/model.md §9.2) on index tensors instead of re-deriving
 * its layout: every HF role tensor is replaced by one with the same extent along the probed axis (and along the
 * packed-expert axis 0 of rank-3 tensors) and 1 elsewhere, holding one plus the running index of (role, HF row) along
 * that axis. The shard the mapping builds from these tensors then names the source of every local row (column); a zero
 * names a row the mapping adds from no HF tensor (the zero rows of Megatron's vocabulary padding, docs/mappings.md §5),
 * reported as {@link Source#PADDING}.
 */
final class MappingProbe {

  /** A local row's (column's) origin: HF index {@code index} along the probed axis of role {@code role}. */
  record Source(String role, int index) {

    /** A local row (column) that no HF row fills: a vocabulary pad row. Its role is no role name. */
    static final Source PADDING = new Source("", -1);

    boolean padding() {
      return this == PADDING;
    }
  }

  /** Exact integers in fp32 (the probe values are 1 … MAX_INDEX; 0 marks padding). */
  private static final long MAX_INDEX = 1L << 24;

  private MappingProbe() {}

  /** The origin of every row of split rank {@code splitRank}'s shard (rows: axis 0, or 1 for packed experts). */
  static List<Source> rows(ParamMapping mapping, Map<String, Shape> hfShapes, int splitSize, int splitRank) {
    return probe(mapping, hfShapes, splitSize, splitRank, false);
  }

  /** The origin of every column (last axis) of split rank {@code splitRank}'s shard. */
  static List<Source> columns(ParamMapping mapping, Map<String, Shape> hfShapes, int splitSize, int splitRank) {
    return probe(mapping, hfShapes, splitSize, splitRank, true);
  }

  private static List<Source> probe(ParamMapping mapping, Map<String, Shape> hfShapes, int splitSize, int splitRank,
      boolean columns) {
    Map<String, Tensor> probes = new LinkedHashMap<>();
    List<String> roles = new ArrayList<>();
    List<Long> offsets = new ArrayList<>();
    long next = 0;
    for (String role : mapping.hfParams().keySet()) {
      Shape shape = hfShapes.get(role);
      if (shape.rank() < 2 || shape.rank() > 3) {
        throw new MappingException(mapping.hfParams().get(role) + ": only matrices and packed experts are probed, "
            + "not shape " + shape);
      }
      int axis = columns ? shape.rank() - 1 : shape.rank() - 2;
      int extent = Math.toIntExact(shape.dim(axis));
      long[] dims = new long[shape.rank()];
      Arrays.fill(dims, 1);
      dims[axis] = extent;
      int copies = 1;
      if (shape.rank() == 3) {
        copies = Math.toIntExact(shape.dim(0));
        dims[0] = copies;
      }
      float[] values = new float[copies * extent];
      for (int copy = 0; copy < copies; copy++) {
        for (int index = 0; index < extent; index++) {
          values[copy * extent + index] = next + index + 1;
        }
      }
      probes.put(role, Tensor.ofFloats(Shape.of(dims), values));
      roles.add(role);
      offsets.add(next);
      next += extent;
    }
    if (next > MAX_INDEX) {
      throw new MappingException(mapping.megatronParam() + ": " + next + " rows/columns exceed the fp32 index probe");
    }
    float[] local = mapping.toMegatron(probes, splitSize, splitRank).toFloatArray();
    List<Source> sources = new ArrayList<>(local.length);
    for (float value : local) {
      if (value == 0) {
        sources.add(Source.PADDING);
        continue;
      }
      long index = (long) value - 1;
      if (index + 1 != value || index >= next) {
        throw new MappingException(mapping.megatronParam() + ": the probe found value " + value
            + ", which is no HF row or column index (1 … " + next + ")");
      }
      int role = roles.size() - 1;
      while (offsets.get(role) > index) {
        role--;
      }
      sources.add(new Source(roles.get(role), (int) (index - offsets.get(role))));
    }
    return sources;
  }
}
