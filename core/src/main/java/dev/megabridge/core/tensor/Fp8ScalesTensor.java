package dev.megabridge.core.tensor;

/** The {@code F32} block scales ({@code weight_scale_inv}) of an {@link Fp8BlockQuantized}. */
public record Fp8ScalesTensor(Fp8BlockQuantized quantized) implements Tensor {

  @Override
  public DType dtype() {
    return DType.F32;
  }

  @Override
  public Shape shape() {
    return quantized.scaleShape();
  }

  @Override
  public Tensor slice(int axis, long start, long length) {
    return quantized.sliceLeading(axis, start, length).scales();
  }

  @Override
  public Tensor select(long index) {
    return quantized.selectLeading(index).scales();
  }

  @Override
  public Tensor unsqueeze0() {
    return new Fp8BlockQuantized(quantized.source().unsqueeze0(), quantized.quantizer()).scales();
  }

  @Override
  public void forEachRun(RunConsumer consumer) {
    quantized.streamScales(consumer);
  }
}
