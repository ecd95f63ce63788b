package dev.megabridge.core.tensor;

import dev.megabridge.core.io.ChecksummedReads;
import java.lang.foreign.MemorySegment;

/**
 * Element-wise {@code target(source + addend)}: the value is widened to fp32 (exactly), the addend added in
 * fp32, and the sum rounded once to the target dtype (round to nearest even). Used for dtype changes on
 * export and for the zero-centred norm shift of docs/mappings.md §2.
 */
public record ConvertedTensor(Tensor source, DType dtype, float addend) implements Tensor {

  private static final int CHUNK_ELEMENTS = 1 << 14;

  public ConvertedTensor {
    if (!isConvertible(source.dtype()) || !isConvertible(dtype)) {
      throw new IllegalArgumentException("cannot convert " + source.dtype() + " to " + dtype);
    }
  }

  private static boolean isConvertible(DType dtype) {
    return dtype == DType.F32 || dtype == DType.BF16 || dtype == DType.F16 || dtype == DType.F64;
  }

  @Override
  public Shape shape() {
    return source.shape();
  }

  @Override
  public Tensor slice(int axis, long start, long length) {
    return new ConvertedTensor(source.slice(axis, start, length), dtype, addend);
  }

  @Override
  public Tensor select(long index) {
    return new ConvertedTensor(source.select(index), dtype, addend);
  }

  @Override
  public Tensor unsqueeze0() {
    return new ConvertedTensor(source.unsqueeze0(), dtype, addend);
  }

  @Override
  public void forEachRun(RunConsumer consumer) {
    int inSize = source.dtype().byteSize();
    int outSize = dtype.byteSize();
    MemorySegment scratch = MemorySegment.ofArray(new byte[CHUNK_ELEMENTS * outSize]);
    source.forEachRun((segment, offset, length, _) -> {
      ChecksummedReads.observe(segment, offset, length, segment.asSlice(offset, length));
      long elements = length / inSize;
      for (long done = 0; done < elements; done += CHUNK_ELEMENTS) {
        int count = (int) Math.min(CHUNK_ELEMENTS, elements - done);
        for (int index = 0; index < count; index++) {
          float value = read(segment, offset + (done + index) * inSize) + addend;
          write(scratch, (long) index * outSize, value);
        }
        consumer.accept(scratch, 0, (long) count * outSize, null);
      }
    });
  }

  private float read(MemorySegment segment, long offset) {
    return switch (source.dtype()) {
      case F32 -> segment.get(StridedTensor.F32, offset);
      case BF16 -> DType.bf16ToFloat(segment.get(StridedTensor.I16, offset));
      case F16 -> DType.f16ToFloat(segment.get(StridedTensor.I16, offset));
      case F64 -> (float) segment.get(StridedTensor.F64, offset);
      default -> throw new IllegalStateException("unreachable: " + source.dtype());
    };
  }

  private void write(MemorySegment segment, long offset, float value) {
    switch (dtype) {
      case F32 -> segment.set(StridedTensor.F32, offset, value);
      case BF16 -> segment.set(StridedTensor.I16, offset, DType.floatToBf16(value));
      case F16 -> segment.set(StridedTensor.I16, offset, DType.floatToF16(value));
      case F64 -> segment.set(StridedTensor.F64, offset, value);
      default -> throw new IllegalStateException("unreachable: " + dtype);
    }
  }

}
