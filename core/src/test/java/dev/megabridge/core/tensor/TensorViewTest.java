package dev.megabridge.core.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link StridedTensor} and {@link ConcatTensor} views against {@link Ref}, a plain row-major array whose
 * operations are written out with explicit multi-index arithmetic. Random op sequences (slice, select,
 * unsqueeze0, chunk, concat, stack) are applied to both; after every step the shapes and the streamed bytes
 * must agree.
 */
class TensorViewTest {

  private static final List<DType> DTYPES = List.of(DType.I8, DType.I16, DType.I32, DType.I64, DType.BF16);

  /** A row-major reference array of raw element bit patterns (the low {@code 8·width} bits are used). */
  record Ref(DType dtype, long[] shape, long[] values) {

    static long numel(long[] shape) {
      long numel = 1;
      for (long dim : shape) {
        numel *= dim;
      }
      return numel;
    }

    /** Multi-index of row-major position {@code flat} in {@code shape}. */
    static long[] unravel(long flat, long[] shape) {
      long[] index = new long[shape.length];
      for (int axis = shape.length - 1; axis >= 0; axis--) {
        index[axis] = flat % shape[axis];
        flat /= shape[axis];
      }
      return index;
    }

    static long ravel(long[] index, long[] shape) {
      long flat = 0;
      for (int axis = 0; axis < shape.length; axis++) {
        flat = flat * shape[axis] + index[axis];
      }
      return flat;
    }

    long at(long[] index) {
      return values[(int) ravel(index, shape)];
    }

    Ref slice(int axis, long start, long length) {
      long[] outShape = shape.clone();
      outShape[axis] = length;
      long[] out = new long[(int) numel(outShape)];
      for (int flat = 0; flat < out.length; flat++) {
        long[] index = unravel(flat, outShape);
        index[axis] += start;
        out[flat] = at(index);
      }
      return new Ref(dtype, outShape, out);
    }

    Ref select(long position) {
      long[] outShape = Arrays.copyOfRange(shape, 1, shape.length);
      long[] out = new long[(int) numel(outShape)];
      for (int flat = 0; flat < out.length; flat++) {
        long[] inner = unravel(flat, outShape);
        long[] index = new long[shape.length];
        index[0] = position;
        System.arraycopy(inner, 0, index, 1, inner.length);
        out[flat] = at(index);
      }
      return new Ref(dtype, outShape, out);
    }

    Ref unsqueeze0() {
      long[] outShape = new long[shape.length + 1];
      outShape[0] = 1;
      System.arraycopy(shape, 0, outShape, 1, shape.length);
      return new Ref(dtype, outShape, values.clone());
    }

    static Ref concat(int axis, List<Ref> parts) {
      long[] outShape = parts.getFirst().shape.clone();
      outShape[axis] = parts.stream().mapToLong(part -> part.shape[axis]).sum();
      long[] out = new long[(int) numel(outShape)];
      for (int flat = 0; flat < out.length; flat++) {
        long[] index = unravel(flat, outShape);
        int part = 0;
        while (index[axis] >= parts.get(part).shape[axis]) {
          index[axis] -= parts.get(part).shape[axis];
          part++;
        }
        out[flat] = parts.get(part).at(index);
      }
      return new Ref(parts.getFirst().dtype, outShape, out);
    }

    byte[] bytes() {
      int width = dtype.byteSize();
      byte[] out = new byte[values.length * width];
      for (int element = 0; element < values.length; element++) {
        for (int octet = 0; octet < width; octet++) {
          out[element * width + octet] = (byte) (values[element] >>> (8 * octet));
        }
      }
      return out;
    }
  }

  /** A tensor and the reference it must equal. */
  record Pair(Tensor tensor, Ref ref) {}

  private static RandomGenerator random(long seed) {
    return RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
  }

  private static long[] randomShape(RandomGenerator random, int rank) {
    long[] shape = new long[rank];
    for (int axis = 0; axis < rank; axis++) {
      shape[axis] = random.nextInt(10) == 0 ? 0 : random.nextInt(1, 5);
    }
    return shape;
  }

  /**
   * A tensor of {@code shape}: either dense, or a view with permuted strides over a larger random buffer at a
   * random offset. Its reference is read with the stride formula element by element.
   */
  private static Pair randomTensor(RandomGenerator random, DType dtype, long[] shape) {
    int width = dtype.byteSize();
    int rank = shape.length;
    long numel = Ref.numel(shape);
    // Strides of a row-major layout of the axes in a random order, with random padding per axis.
    Integer[] order = new Integer[rank];
    for (int axis = 0; axis < rank; axis++) {
      order[axis] = axis;
    }
    boolean dense = random.nextBoolean();
    if (!dense) {
      for (int axis = rank - 1; axis > 0; axis--) {
        int other = random.nextInt(axis + 1);
        Integer swap = order[axis];
        order[axis] = order[other];
        order[other] = swap;
      }
    }
    long[] strides = new long[rank];
    long stride = 1;
    for (int position = rank - 1; position >= 0; position--) {
      int axis = order[position];
      strides[axis] = stride;
      stride *= Math.max(1, shape[axis]) + (dense ? 0 : random.nextInt(3));
    }
    long offsetElements = dense ? 0 : random.nextInt(4);
    long bufferElements = offsetElements + stride;
    byte[] buffer = new byte[(int) (bufferElements * width)];
    random.nextBytes(buffer);
    MemorySegment base = MemorySegment.ofArray(buffer);
    StridedTensor tensor = dense
        ? StridedTensor.contiguous(dtype, Shape.of(shape), base.asSlice(0, numel * width))
        : new StridedTensor(base, offsetElements * width, dtype, Shape.of(shape), strides);
    long[] values = new long[(int) numel];
    for (int flat = 0; flat < numel; flat++) {
      long[] index = Ref.unravel(flat, shape);
      long element = offsetElements;
      for (int axis = 0; axis < rank; axis++) {
        element += index[axis] * strides[axis];
      }
      long value = 0;
      for (int octet = 0; octet < width; octet++) {
        value |= (buffer[(int) (element * width + octet)] & 0xFFL) << (8 * octet);
      }
      values[flat] = value;
    }
    return new Pair(tensor, new Ref(dtype, shape.clone(), values));
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
  void randomViewSequencesMatchTheReference(long seedBase) {
    long seed = 0x7E45_0000L + seedBase;
    RandomGenerator random = random(seed);
    for (int trial = 0; trial < 300; trial++) {
      DType dtype = DTYPES.get(random.nextInt(DTYPES.size()));
      Pair pair = randomTensor(random, dtype, randomShape(random, random.nextInt(1, 5)));
      List<String> history = new ArrayList<>();
      history.add(pair.tensor().toString() + " " + pair.tensor().shape());
      for (int step = 0; step < 6; step++) {
        pair = randomStep(random, pair, history);
        String context = "seed " + seed + " trial " + trial + " ops " + history;
        assertMatches(pair, context);
      }
    }
  }

  private static Pair randomStep(RandomGenerator random, Pair pair, List<String> history) {
    Tensor tensor = pair.tensor();
    Ref ref = pair.ref();
    int rank = ref.shape().length;
    switch (random.nextInt(6)) {
      case 0 -> {
        int axis = random.nextInt(rank);
        long dim = ref.shape()[axis];
        long start = random.nextLong(dim + 1);
        long length = random.nextLong(dim - start + 1);
        history.add("slice(" + axis + "," + start + "," + length + ")");
        return new Pair(tensor.slice(axis, start, length), ref.slice(axis, start, length));
      }
      case 1 -> {
        if (rank < 2 || ref.shape()[0] == 0) {
          return pair;
        }
        long index = random.nextLong(ref.shape()[0]);
        history.add("select(" + index + ")");
        return new Pair(tensor.select(index), ref.select(index));
      }
      case 2 -> {
        if (rank >= 5) {
          return pair;
        }
        history.add("unsqueeze0");
        return new Pair(tensor.unsqueeze0(), ref.unsqueeze0());
      }
      case 3 -> {
        int axis = random.nextInt(rank);
        long dim = ref.shape()[axis];
        List<Integer> divisors = List.of(1, 2, 3, 4).stream().filter(p -> dim % p == 0).toList();
        int parts = divisors.get(random.nextInt(divisors.size()));
        int index = random.nextInt(parts);
        history.add("chunk(" + axis + "," + parts + "," + index + ")");
        long length = dim / parts;
        return new Pair(tensor.chunk(axis, parts, index), ref.slice(axis, index * length, length));
      }
      case 4 -> {
        int axis = random.nextInt(rank);
        int count = random.nextInt(1, 4);
        List<Tensor> tensors = new ArrayList<>();
        List<Ref> refs = new ArrayList<>();
        int mine = random.nextInt(count);
        for (int part = 0; part < count; part++) {
          if (part == mine) {
            tensors.add(tensor);
            refs.add(ref);
          } else {
            long[] shape = ref.shape().clone();
            shape[axis] = random.nextInt(4);
            Pair other = randomTensor(random, ref.dtype(), shape);
            tensors.add(other.tensor());
            refs.add(other.ref());
          }
        }
        history.add("concat(" + axis + ", " + count + " parts)");
        return new Pair(Tensor.concat(axis, tensors), Ref.concat(axis, refs));
      }
      default -> {
        if (rank >= 5) {
          return pair;
        }
        int count = random.nextInt(1, 4);
        List<Tensor> tensors = new ArrayList<>();
        List<Ref> refs = new ArrayList<>();
        for (int part = 0; part < count; part++) {
          Pair member = part == 0 ? pair : randomTensor(random, ref.dtype(), ref.shape());
          tensors.add(member.tensor());
          refs.add(member.ref().unsqueeze0());
        }
        history.add("stack(" + count + ")");
        return new Pair(Tensor.stack(tensors), Ref.concat(0, refs));
      }
    }
  }

  private static void assertMatches(Pair pair, String context) {
    Tensor tensor = pair.tensor();
    Ref ref = pair.ref();
    assertThat(tensor.dtype()).as(context).isEqualTo(ref.dtype());
    assertThat(tensor.shape().toArray()).as(context).containsExactly(ref.shape());
    assertThat(tensor.numel()).as(context).isEqualTo(ref.values().length);
    byte[] expected = ref.bytes();
    // forEachRun: runs are non-empty, whole elements, inside their segment, and in row-major order.
    java.io.ByteArrayOutputStream streamed = new java.io.ByteArrayOutputStream();
    tensor.forEachRun((segment, offset, length, _) -> {
      assertThat(length).as(context).isPositive();
      assertThat(length % tensor.dtype().byteSize()).as(context).isZero();
      assertThat(offset).as(context).isNotNegative();
      assertThat(offset + length).as(context).isLessThanOrEqualTo(segment.byteSize());
      streamed.writeBytes(segment.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
    });
    assertThat(streamed.toByteArray()).as(context).isEqualTo(expected);
    assertThat(tensor.toByteArray()).as(context).isEqualTo(expected);
    try (Arena arena = Arena.ofConfined()) {
      assertThat(tensor.toSegment(arena).toArray(ValueLayout.JAVA_BYTE)).as(context).isEqualTo(expected);
    }
    StridedTensor dense = tensor.materialize();
    assertThat(dense.isContiguous()).isTrue();
    assertThat(Tensor.contentEquals(dense, tensor)).as(context).isTrue();
    if (tensor instanceof StridedTensor strided && tensor.dtype() != DType.BF16) {
      // Element access goes through the stride formula, not through forEachRun.
      long mask = tensor.dtype().byteSize() == 8 ? -1L : (1L << (8 * tensor.dtype().byteSize())) - 1;
      for (int flat = 0; flat < ref.values().length; flat++) {
        assertThat(strided.getLong(flat) & mask).as(context + " element " + flat).isEqualTo(ref.values()[flat]);
      }
    }
  }

  @Test
  void contiguousTensorsStreamAsOneRunAndSlicesAsMaximalRuns() {
    Pair pair = randomTensor(random(11), DType.I32, new long[] {3, 4, 5});
    Tensor dense = pair.tensor().materialize();
    assertThat(runLengths(dense)).containsExactly(3L * 4 * 5 * 4);
    // Axis 0 slices and size-1 axes keep one run; a slice of the last axis gives one run per row.
    assertThat(runLengths(dense.slice(0, 1, 2))).containsExactly(2L * 4 * 5 * 4);
    assertThat(runLengths(dense.slice(1, 2, 1))).containsExactly(20L, 20L, 20L);
    assertThat(runLengths(dense.slice(2, 1, 3))).hasSize(12).containsOnly(12L);
    assertThat(runLengths(dense.unsqueeze0())).containsExactly(240L);
    assertThat(runLengths(dense.slice(0, 3, 0))).isEmpty();
    // A concatenation along axis 1 interleaves the parts row by row.
    Tensor left = dense.slice(1, 0, 1);
    Tensor right = dense.slice(1, 1, 3);
    assertThat(runLengths(Tensor.concat(1, List.of(left, right)))).containsExactly(20L, 60L, 20L, 60L, 20L, 60L);
  }

  private static List<Long> runLengths(Tensor tensor) {
    List<Long> lengths = new ArrayList<>();
    tensor.forEachRun((segment, offset, length, _) -> lengths.add(length));
    return lengths;
  }

  @Test
  void invalidViewsAreRejected() {
    Tensor tensor = randomTensor(random(12), DType.I16, new long[] {4, 6}).tensor();
    assertThatThrownBy(() -> tensor.slice(0, 3, 2)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> tensor.slice(1, -1, 2)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> tensor.slice(1, 1, Long.MAX_VALUE)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> tensor.slice(1, Long.MAX_VALUE, 2)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> tensor.slice(2, 0, 1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> tensor.select(4)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> tensor.chunk(1, 4, 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> tensor.chunk(1, 3, 3)).isInstanceOf(IndexOutOfBoundsException.class);
    Tensor concat = Tensor.concat(0, List.of(tensor, tensor));
    assertThatThrownBy(() -> concat.slice(0, 7, 2)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> concat.slice(1, 1, Long.MAX_VALUE)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> concat.slice(-1, 0, 1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> concat.select(8)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> concat.select(-1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> Tensor.concat(0, List.of(tensor, tensor.convert(DType.F32))))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Tensor.concat(0, List.of(tensor, tensor.slice(1, 0, 5))))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Tensor.concat(2, List.of(tensor, tensor))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Tensor.stack(List.of())).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ConcatTensor(0, List.of(tensor, tensor), DType.I16, Shape.of(9, 6)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ConcatTensor(0, List.of(tensor), DType.I32, Shape.of(4, 6)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new StridedTensor(MemorySegment.ofArray(new byte[8]), 0, DType.I8, Shape.of(2),
        new long[] {-1})).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Shape.of(2, -1)).isInstanceOf(IllegalArgumentException.class);
    StridedTensor strided = (StridedTensor) tensor;
    assertThatThrownBy(() -> strided.getFloat(24)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> strided.getLong(-1)).isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void viewsShareMemoryWithTheirBase() {
    byte[] buffer = new byte[4 * 6 * 4];
    StridedTensor base = StridedTensor.contiguous(DType.I32, Shape.of(4, 6), MemorySegment.ofArray(buffer));
    Tensor view = Tensor.concat(1, List.of(base.slice(1, 4, 2), base.slice(1, 0, 1))).select(2);
    MemorySegment.ofArray(buffer).set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
        (2 * 6 + 5) * 4L, 0x01020304);
    assertThat(view.toFloatArray()).containsExactly(0f, (float) 0x01020304, 0f);
  }
}
