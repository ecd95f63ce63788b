package dev.megabridge.core.tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The concatenation of tensors along one axis. Invariants (checked by the constructor): at least one part;
 * every part has {@code dtype} and the rank of {@code shape}; every part agrees with {@code shape} on each
 * axis except {@code axis}; the parts' sizes along {@code axis} sum to {@code shape.dim(axis)}.
 */
public record ConcatTensor(int axis, List<Tensor> parts, DType dtype, Shape shape) implements Tensor {

  public ConcatTensor {
    parts = List.copyOf(parts);
    Shape expected = concatShape(axis, parts);
    if (parts.getFirst().dtype() != dtype || !expected.equals(shape)) {
      throw new IllegalArgumentException("concatenation along axis " + axis + " of its parts is "
          + parts.getFirst().dtype() + expected + ", not " + dtype + shape);
    }
  }

  static ConcatTensor of(int axis, List<Tensor> parts) {
    return new ConcatTensor(axis, parts, parts.isEmpty() ? null : parts.getFirst().dtype(),
        concatShape(axis, parts));
  }

  /** The shape of the concatenation of {@code parts} along {@code axis}; rejects parts that do not fit. */
  private static Shape concatShape(int axis, List<Tensor> parts) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("concatenation of no tensors");
    }
    Tensor first = parts.getFirst();
    if (axis < 0 || axis >= first.shape().rank()) {
      throw new IllegalArgumentException("axis " + axis + " out of range for shape " + first.shape());
    }
    long total = 0;
    for (Tensor part : parts) {
      if (part.dtype() != first.dtype() || part.shape().rank() != first.shape().rank()) {
        throw new IllegalArgumentException("cannot concatenate " + part.dtype() + part.shape() + " with "
            + first.dtype() + first.shape());
      }
      for (int other = 0; other < first.shape().rank(); other++) {
        if (other != axis && part.shape().dim(other) != first.shape().dim(other)) {
          throw new IllegalArgumentException("cannot concatenate " + part.shape() + " with " + first.shape()
              + " along axis " + axis);
        }
      }
      total = Math.addExact(total, part.shape().dim(axis));
    }
    return first.shape().withDim(axis, total);
  }

  @Override
  public Tensor slice(int sliceAxis, long start, long length) {
    if (sliceAxis < 0 || sliceAxis >= shape.rank() || start < 0 || length < 0 || start > shape.dim(sliceAxis)
        || length > shape.dim(sliceAxis) - start) {
      throw new IndexOutOfBoundsException("slice [" + start + ", " + (start + length) + ") of axis "
          + sliceAxis + " of shape " + shape);
    }
    if (sliceAxis != axis) {
      return of(axis, parts.stream().map(part -> part.slice(sliceAxis, start, length)).toList());
    }
    List<Tensor> selected = new ArrayList<>();
    long partStart = 0;
    long end = start + length;
    for (Tensor part : parts) {
      long partEnd = partStart + part.shape().dim(axis);
      long from = Math.max(start, partStart);
      long to = Math.min(end, partEnd);
      if (from < to) {
        selected.add(part.slice(axis, from - partStart, to - from));
      }
      partStart = partEnd;
    }
    if (selected.isEmpty()) {
      return parts.getFirst().slice(axis, 0, 0);
    }
    return Tensor.concat(axis, selected);
  }

  @Override
  public Tensor select(long index) {
    if (shape.rank() == 0 || index < 0 || index >= shape.dim(0)) {
      throw new IndexOutOfBoundsException("index " + index + " of axis 0 of shape " + shape);
    }
    if (axis == 0) {
      long partStart = 0;
      for (Tensor part : parts) {
        long size = part.shape().dim(0);
        if (index < partStart + size) {
          return part.select(index - partStart);
        }
        partStart += size;
      }
      throw new IndexOutOfBoundsException("index " + index + " of axis 0 of shape " + shape);
    }
    return Tensor.concat(axis - 1, parts.stream().map(part -> part.select(index)).toList());
  }

  @Override
  public Tensor unsqueeze0() {
    return of(axis + 1, parts.stream().map(Tensor::unsqueeze0).toList());
  }

  @Override
  public void forEachRun(RunConsumer consumer) {
    if (axis == 0) {
      for (Tensor part : parts) {
        part.forEachRun(consumer);
      }
      return;
    }
    if (parts.stream().allMatch(StridedTensor.class::isInstance)) {
      forEachRunOfStridedParts(consumer);
      return;
    }
    long outer = shape.dim(0);
    for (long index = 0; index < outer; index++) {
      select(index).forEachRun(consumer);
    }
  }

  /**
   * Row-major order visits every index of the axes before {@code axis} and, at each, every part's block of the
   * remaining axes in turn. With strided parts that block is the part's trailing-axes view shifted by the index's
   * byte offset, so one walk over the outer axes replaces building a concatenation per outer index (which an
   * export of TP-split row-parallel weights would otherwise do once per matrix row).
   */
  private void forEachRunOfStridedParts(RunConsumer consumer) {
    for (int outerAxis = 0; outerAxis < axis; outerAxis++) {
      if (shape.dim(outerAxis) == 0) {
        return;
      }
    }
    List<StridedTensor> strided = parts.stream().map(StridedTensor.class::cast).toList();
    List<StridedTensor> blocks = strided.stream().map(part -> part.trailingAxes(axis)).toList();
    long[] index = new long[axis];
    do {
      for (int part = 0; part < blocks.size(); part++) {
        long shift = 0;
        for (int outerAxis = 0; outerAxis < axis; outerAxis++) {
          shift += index[outerAxis] * strided.get(part).byteStride(outerAxis);
        }
        blocks.get(part).forEachRun(shift, consumer);
      }
    } while (shape.advance(index));
  }
}
