package dev.megabridge.core.tensor;

/** The {@code F8_E4M3} codes of an {@link Fp8BlockQuantized}; cut only along leading axes. */
public record Fp8CodesTensor(Fp8BlockQuantized quantized) implements Tensor {

  @Override
  public DType dtype() {
    return DType.F8_E4M3;
  }

  @Override
  public Shape shape() {
    return quantized.source().shape();
  }

  @Override
  public Tensor slice(int axis, long start, long length) {
    return quantized.sliceLeading(axis, start, length).codes();
  }

  @Override
  public Tensor select(long index) {
    return quantized.selectLeading(index).codes();
  }

  @Override
  public Tensor unsqueeze0() {
    return new Fp8BlockQuantized(quantized.source().unsqueeze0(), quantized.quantizer()).codes();
  }

  @Override
  public void forEachRun(RunConsumer consumer) {
    quantized.streamCodes(consumer);
  }
}
