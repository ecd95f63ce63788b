package dev.megabridge.core.convert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.quant.Fp8BlockQuantizer;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Fp8BlockQuantized;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Buckets never exceed their size: larger tensors are split along axis 0 and reassemble bit for bit. */
class WeightBucketsTest {

  private static Tensor tensor(DType dtype, int seed, long... dims) {
    Shape shape = Shape.of(dims);
    byte[] bytes = new byte[Math.toIntExact(shape.numel() * dtype.byteSize())];
    for (int index = 0; index < bytes.length; index++) {
      bytes[index] = (byte) (index * 31 + seed);
    }
    return Tensor.of(dtype, shape, MemorySegment.ofArray(bytes));
  }

  private static Map<String, Tensor> model() {
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("embed", tensor(DType.BF16, 1, 100, 16));          // 3200 bytes: split into runs of rows
    tensors.put("norm", tensor(DType.F32, 2, 16));                  // 64 bytes
    tensors.put("experts.gate_up_proj", tensor(DType.BF16, 3, 4, 8, 16)); // 1024 bytes, 256 per expert
    tensors.put("experts.down_proj", tensor(DType.BF16, 4, 4, 16, 4));    // 512 bytes: fits whole
    tensors.put("empty", tensor(DType.F32, 5, 0, 3));
    tensors.put("head", tensor(DType.F32, 6, 7, 9));                // 252 bytes
    return tensors;
  }

  @Test
  void noBucketExceedsTheSizeAndPiecesReassembleBitForBit() {
    long limit = 600;
    Map<String, Tensor> tensors = model();
    WeightBuckets buckets = new WeightBuckets(tensors, Set.of("experts.gate_up_proj", "experts.down_proj"), limit);
    Map<String, ByteArrayOutputStream> rebuilt = new LinkedHashMap<>();
    Map<String, List<long[]>> ranges = new LinkedHashMap<>();
    long largest = 0;
    for (WeightBuckets.Bucket bucket : buckets) {
      long measured = bucket.tensors().stream().mapToLong(named -> named.tensor().byteSize()).sum();
      assertThat(measured).as("bucket %d", bucket.index()).isEqualTo(bucket.bytes()).isLessThanOrEqualTo(limit);
      largest = Math.max(largest, measured);
      for (WeightBuckets.NamedTensor named : bucket.tensors()) {
        String name = named.piece().map(WeightBuckets.Piece::tensorName).orElse(named.name());
        named.piece().ifPresent(piece -> {
          assertThat(named.name()).isEqualTo(WeightBuckets.pieceName(name, piece.begin(), piece.end()));
          assertThat(named.tensor().shape().dim(0)).isEqualTo(piece.end() - piece.begin());
          ranges.computeIfAbsent(name, key -> new ArrayList<>()).add(new long[] {piece.begin(), piece.end()});
        });
        rebuilt.computeIfAbsent(name, key -> new ByteArrayOutputStream()).writeBytes(named.tensor().toByteArray());
      }
    }
    assertThat(buckets.largestBucketBytes()).isEqualTo(largest);
    assertThat(rebuilt.keySet()).containsExactlyElementsOf(tensors.keySet());
    tensors.forEach((name, tensor) ->
        assertThat(rebuilt.get(name).toByteArray()).as(name).isEqualTo(tensor.toByteArray()));
    assertThat(ranges.keySet()).containsExactly("embed", "experts.gate_up_proj");
    assertThat(ranges.get("experts.gate_up_proj")).as("one piece per expert")
        .containsExactly(new long[] {0, 1}, new long[] {1, 2}, new long[] {2, 3}, new long[] {3, 4});
    long covered = 0;
    for (long[] range : ranges.get("embed")) {
      assertThat(range[0]).isEqualTo(covered);
      covered = range[1];
    }
    assertThat(covered).isEqualTo(100);
  }

  @Test
  void aBucketSmallerThanOneRowOrExpertIsABadArgumentNamingTheTensor() {
    Map<String, Tensor> tensors = model();
    assertThatThrownBy(() -> new WeightBuckets(tensors, Set.of("experts.gate_up_proj"), 200))
        .isInstanceOf(UsageException.class)
        .hasMessageContaining("'experts.gate_up_proj'").hasMessageContaining("1024 bytes")
        .hasMessageContaining("256 bytes per expert").hasMessageContaining("bucket size 200 bytes");
    Map<String, Tensor> scalar = Map.of("s", tensor(DType.F64, 0));
    assertThatThrownBy(() -> new WeightBuckets(scalar, 4)).isInstanceOf(UsageException.class)
        .hasMessageContaining("'s'").hasMessageContaining("8 bytes");
  }

  @Test
  void tensorsThatFitAreNeverSplit() {
    WeightBuckets buckets = new WeightBuckets(model(), 4096);
    assertThat(buckets.buckets()).hasSize(2);
    assertThat(buckets.buckets().stream().flatMap(bucket -> bucket.tensors().stream())
        .allMatch(named -> named.piece().isEmpty())).isTrue();
  }

  private static Fp8BlockQuantized quantized(long... dims) {
    Shape shape = Shape.of(dims);
    float[] values = new float[Math.toIntExact(shape.numel())];
    for (int index = 0; index < values.length; index++) {
      values[index] = (float) (Math.sin(index * 0.37) * (1 + index % 7));
    }
    return new Fp8BlockQuantized(Tensor.ofFloats(shape, values), new Fp8BlockQuantizer(16, 32));
  }

  @Test
  void fp8WeightsShareABucketWithTheirScalesAndSplitOnBlockRows() {
    // [50, 40] in 16x32 blocks: bands of 16 rows = 640 code bytes + 2 scales (8 bytes); the last band has 2 rows.
    Fp8BlockQuantized matrix = quantized(50, 40);
    // Packed experts [3, 20, 40]: 800 code bytes + 2x2 scales (16 bytes) per expert.
    Fp8BlockQuantized experts = quantized(3, 20, 40);
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("norm", tensor(DType.F32, 2, 16));
    tensors.put("proj.weight", matrix.codes());
    tensors.put("proj.weight_scale_inv", matrix.scales());
    tensors.put("experts.gate_up_proj", experts.codes());
    tensors.put("experts.gate_up_proj_scale_inv", experts.scales());
    long limit = 900;
    WeightBuckets buckets = new WeightBuckets(tensors, Set.of("experts.gate_up_proj"), limit);
    Map<String, ByteArrayOutputStream> rebuilt = new LinkedHashMap<>();
    Map<String, List<long[]>> ranges = new LinkedHashMap<>();
    for (WeightBuckets.Bucket bucket : buckets) {
      long measured = bucket.tensors().stream().mapToLong(named -> named.tensor().byteSize()).sum();
      assertThat(measured).as("bucket %d", bucket.index()).isEqualTo(bucket.bytes()).isLessThanOrEqualTo(limit);
      List<String> names = bucket.tensors().stream().map(WeightBuckets.NamedTensor::name).toList();
      for (WeightBuckets.NamedTensor named : bucket.tensors()) {
        String name = named.piece().map(WeightBuckets.Piece::tensorName).orElse(named.name());
        named.piece().ifPresent(piece ->
            ranges.computeIfAbsent(name, key -> new ArrayList<>()).add(new long[] {piece.begin(), piece.end()}));
        rebuilt.computeIfAbsent(name, key -> new ByteArrayOutputStream()).writeBytes(named.tensor().toByteArray());
        if (!name.endsWith("_scale_inv") && !name.equals("norm")) {
          String scaleKey = named.piece().map(piece -> piece.perExpert()
              ? WeightBuckets.pieceName(name + "_scale_inv", piece.begin(), piece.end())
              : WeightBuckets.pieceName(name + "_scale_inv", piece.begin() / 16, Math.ceilDiv(piece.end(), 16)))
              .orElse(name + "_scale_inv");
          assertThat(names).as("bucket %d", bucket.index()).contains(scaleKey);
        }
      }
    }
    assertThat(rebuilt.keySet()).containsExactlyElementsOf(tensors.keySet());
    tensors.forEach((name, tensor) ->
        assertThat(rebuilt.get(name).toByteArray()).as(name).isEqualTo(tensor.toByteArray()));
    // 64 + 648 in the first bucket, then 648, then the last full band with the 2-row band (640 + 80 + 16 bytes).
    assertThat(ranges.get("proj.weight")).containsExactly(new long[] {0, 16}, new long[] {16, 32},
        new long[] {32, 50});
    assertThat(ranges.get("proj.weight_scale_inv")).containsExactly(new long[] {0, 1}, new long[] {1, 2},
        new long[] {2, 4});
    assertThat(ranges.get("experts.gate_up_proj_scale_inv")).containsExactly(new long[] {0, 1}, new long[] {1, 2},
        new long[] {2, 3});
    assertThat(buckets.largestBucketBytes()).isEqualTo(816);

    assertThatThrownBy(() -> new WeightBuckets(tensors, Set.of("experts.gate_up_proj"), 600))
        .isInstanceOf(UsageException.class).hasMessageContaining("'proj.weight'")
        .hasMessageContaining("band of 16 rows").hasMessageContaining("648 bytes per");
    Map<String, Tensor> withoutScales = new LinkedHashMap<>(tensors);
    withoutScales.remove("proj.weight_scale_inv");
    assertThatThrownBy(() -> new WeightBuckets(withoutScales, limit)).hasMessageContaining("'proj.weight'");
  }
}
