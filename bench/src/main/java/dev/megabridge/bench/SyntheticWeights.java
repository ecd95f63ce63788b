package dev.megabridge.bench;

import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.runtime.qwen35.ModelWeights;
import dev.megabridge.runtime.qwen35.RowKinds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Random weights of a dense text-only Qwen3.5 with the shapes of {@code text} (names under {@code model.}):
 * BF16 everywhere except {@code A_log} and {@code linear_attn.norm.weight} (F32, as official checkpoints store
 * them), off-heap in one arena. Values are small finite bf16 numbers; norm weights are zero (scale 1+0).
 */
final class SyntheticWeights implements ModelWeights, AutoCloseable {

  private final Arena arena = Arena.ofShared();
  private final Map<String, Tensor> tensors = new LinkedHashMap<>();
  private long state = 0x9E3779B97F4A7C15L;
  private final RowKinds rowKinds;

  SyntheticWeights(Qwen35Config config) {
    this.rowKinds = RowKinds.of(config);
    TextConfig text = config.text();
    boolean tied = config.tieWordEmbeddings();
    int hidden = text.hiddenSize();
    add("model.embed_tokens.weight", DType.BF16, text.vocabSize(), hidden);
    for (int layer = 0; layer < text.numHiddenLayers(); layer++) {
      String prefix = "model.layers." + layer + ".";
      add(prefix + "input_layernorm.weight", DType.BF16, 0, hidden);
      add(prefix + "post_attention_layernorm.weight", DType.BF16, 0, hidden);
      if (text.isFullAttention(layer)) {
        int heads = text.numAttentionHeads();
        int kv = text.numKeyValueHeads();
        int headDim = text.headDim();
        add(prefix + "self_attn.q_proj.weight", DType.BF16, 2L * heads * headDim, hidden);
        add(prefix + "self_attn.k_proj.weight", DType.BF16, (long) kv * headDim, hidden);
        add(prefix + "self_attn.v_proj.weight", DType.BF16, (long) kv * headDim, hidden);
        add(prefix + "self_attn.o_proj.weight", DType.BF16, hidden, (long) heads * headDim);
        add(prefix + "self_attn.q_norm.weight", DType.BF16, 0, headDim);
        add(prefix + "self_attn.k_norm.weight", DType.BF16, 0, headDim);
      } else {
        String gdn = prefix + "linear_attn.";
        add(gdn + "in_proj_qkv.weight", DType.BF16, text.convDim(), hidden);
        add(gdn + "in_proj_z.weight", DType.BF16, text.valueDim(), hidden);
        add(gdn + "in_proj_b.weight", DType.BF16, text.linearNumValueHeads(), hidden);
        add(gdn + "in_proj_a.weight", DType.BF16, text.linearNumValueHeads(), hidden);
        add(gdn + "conv1d.weight", DType.BF16, text.convDim(), text.linearConvKernelDim());
        add(gdn + "dt_bias", DType.BF16, 0, text.linearNumValueHeads());
        add(gdn + "A_log", DType.F32, 0, text.linearNumValueHeads());
        add(gdn + "norm.weight", DType.F32, 0, text.linearValueHeadDim());
        add(gdn + "out_proj.weight", DType.BF16, hidden, text.valueDim());
      }
      add(prefix + "mlp.gate_proj.weight", DType.BF16, text.intermediateSize(), hidden);
      add(prefix + "mlp.up_proj.weight", DType.BF16, text.intermediateSize(), hidden);
      add(prefix + "mlp.down_proj.weight", DType.BF16, hidden, text.intermediateSize());
    }
    add("model.norm.weight", DType.BF16, 0, hidden);
    if (!tied) {
      add("lm_head.weight", DType.BF16, text.vocabSize(), hidden);
    }
  }

  /** {@code rows == 0} means a 1-D tensor of {@code columns} elements, filled with zeros. */
  private void add(String name, DType dtype, long rows, long columns) {
    Shape shape = rows == 0 ? Shape.of(columns) : Shape.of(rows, columns);
    MemorySegment data = arena.allocate(shape.numel() * dtype.byteSize(), 64);
    if (rows != 0) {
      fillRandomBf16(data);
    }
    tensors.put(name, Tensor.of(dtype, shape, data));
  }

  /** bf16 values ±m·2^(e−127), e ∈ {119 … 122}: finite, no subnormals, magnitude ≤ 1/16. Four per xorshift draw. */
  private void fillRandomBf16(MemorySegment data) {
    long count = data.byteSize() / 8;
    for (long index = 0; index < count; index++) {
      state ^= state << 13;
      state ^= state >>> 7;
      state ^= state << 17;
      long random = state;
      long packed = 0;
      for (int lane = 0; lane < 4; lane++) {
        long bits = (random >>> (16 * lane)) & 0xFFFF;
        long value = (bits & 0x807F) | ((119 + ((bits >>> 7) & 3)) << 7);
        packed |= value << (16 * lane);
      }
      data.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, index, packed);
    }
  }

  /** Every tensor by its {@code model.}-prefixed name, in creation order. */
  Map<String, Tensor> tensors() {
    return Collections.unmodifiableMap(tensors);
  }

  long totalBytes() {
    return tensors.values().stream().mapToLong(Tensor::byteSize).sum();
  }

  @Override
  public RowKinds rowKinds() {
    return rowKinds;
  }

  @Override
  public boolean contains(String name) {
    return tensors.containsKey(resolve(name));
  }

  @Override
  public Tensor tensor(String name) {
    Tensor tensor = tensors.get(resolve(name));
    if (tensor == null) {
      throw new IllegalArgumentException("no synthetic tensor " + name);
    }
    return tensor;
  }

  private static String resolve(String name) {
    return name.startsWith("model.language_model.") ? "model." + name.substring("model.language_model.".length())
        : name;
  }

  @Override
  public void close() {
    arena.close();
  }
}
