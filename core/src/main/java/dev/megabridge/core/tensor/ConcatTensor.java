package dev.megabridge.core.tensor;

import java.util.ArrayList;
import java.util.List;

/** The concatenation of tensors along one axis. Parts agree on dtype and on every other dimension. */
public record ConcatTensor(int axis, List<Tensor> parts, DType dtype, Shape shape) implements Tensor {

  public ConcatTensor {
    parts = List.copyOf(parts);
  }

  static ConcatTensor of(int axis, List<Tensor> parts) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("concatenation of no tensors");
    }
    Tensor first = parts.getFirst();
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
      total += part.shape().dim(axis);
    }
    return new ConcatTensor(axis, parts, first.dtype(), first.shape().withDim(axis, total));
  }

  @Override
  public Tensor slice(int sliceAxis, long start, long length) {
    if (start < 0 || length < 0 || start + length > shape.dim(sliceAxis)) {
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
    long outer = shape.dim(0);
    for (long index = 0; index < outer; index++) {
      select(index).forEachRun(consumer);
    }
  }
}
