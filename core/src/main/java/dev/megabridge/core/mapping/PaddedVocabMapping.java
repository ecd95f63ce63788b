package dev.megabridge.core.mapping;

import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.spi.VocabPadding;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Column-parallel vocabulary rows with Megatron's padding (docs/mappings.md §2.7, §5.2): the HF
 * tensor's {@code vocabSize} rows followed by zero rows up to {@code padding.rows(vocabSize, t)}, split along
 * dim 0. Export concatenates the shards and keeps the first {@code vocabSize} rows, whatever the pad rows hold.
 */
public record PaddedVocabMapping(String megatronParam, Map<String, String> hfParams, long vocabSize,
    VocabPadding padding) implements ParamMapping {

  public PaddedVocabMapping {
    hfParams = Mappings.checked(megatronParam, hfParams, 1, 0);
    if (vocabSize < 1) {
      throw new IllegalArgumentException(megatronParam + ": vocabulary size " + vocabSize);
    }
  }

  public PaddedVocabMapping(String megatronParam, String hfParam, long vocabSize, VocabPadding padding) {
    this(megatronParam, ParamMapping.single(hfParam), vocabSize, padding);
  }

  @Override
  public ParamMapping withNames(String megatron, Map<String, String> hf) {
    return new PaddedVocabMapping(megatron, hf, vocabSize, padding);
  }

  @Override
  public Tensor toMegatron(Map<String, Tensor> hf, int splitSize, int splitRank) {
    Tensor tensor = ParamMapping.role(this, hf, TENSOR);
    ParamMapping.requireRank(this, TENSOR, tensor, 2);
    if (tensor.shape().dim(0) != vocabSize) {
      throw new ShapeMismatchException(hfParams.get(TENSOR) + ": expected " + vocabSize + " vocabulary rows, got shape "
          + tensor.shape() + " (for " + megatronParam + ")");
    }
    long rows = padding.rows(vocabSize, splitSize);
    if (rows % splitSize != 0) {
      throw new LayoutException(megatronParam + ": padded vocabulary " + rows + " is not divisible by the split size "
          + splitSize);
    }
    Tensor padded = rows == vocabSize ? tensor : Tensor.concat(0, List.of(tensor, zeros(tensor, rows - vocabSize)));
    return padded.chunk(0, splitSize, splitRank);
  }

  /** {@code count} zero rows of {@code like}'s dtype and width: one zero row repeated (stride 0), no allocation per row. */
  private static Tensor zeros(Tensor like, long count) {
    long width = like.shape().dim(1);
    MemorySegment row = MemorySegment.ofArray(new byte[Math.toIntExact(width * like.dtype().byteSize())]);
    return new StridedTensor(row, 0, like.dtype(), Shape.of(count, width), new long[] {0, 1});
  }

  @Override
  public Map<String, Tensor> toHf(List<Tensor> shards) {
    ParamMapping.requireShards(this, shards);
    Tensor all = Tensor.concat(0, new ArrayList<>(shards));
    if (all.shape().dim(0) < vocabSize) {
      throw new ShapeMismatchException(megatronParam + ": " + all.shape().dim(0) + " rows gathered, fewer than the "
          + vocabSize + " of the vocabulary");
    }
    return Map.of(TENSOR, all.shape().dim(0) == vocabSize ? all : all.slice(0, 0, vocabSize));
  }
}
