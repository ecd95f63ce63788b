package dev.megabridge.runtime.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.megabridge.core.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Vector kernels against the scalar oracle over awkward sizes, all species widths and both weight dtypes. */
class KernelOpsTest {

  private static final int[] SIZES = {1, 3, 4, 7, 8, 13, 15, 16, 17, 31, 32, 33, 63, 65, 100, 255, 257, 1000, 2049};
  private static final ScalarKernelOps SCALAR = new ScalarKernelOps();

  /** The species width is fixed per JVM (run with -Dmegabridge.vector.bits=128 or 256 to cover narrower paths). */
  static Stream<Arguments> vectorWidths() {
    assumeTrue(Kernels.vectorAvailable(), "jdk.incubator.vector not available");
    return Stream.of(Arguments.of(new VectorKernelOps().name()));
  }

  private static WeightMatrix randomMatrix(Random random, int rows, int columns, DType dtype) {
    MemorySegment data = MemorySegment.ofArray(new byte[rows * columns * dtype.byteSize()]);
    for (int i = 0; i < rows * columns; i++) {
      float value = (float) random.nextGaussian();
      if (dtype == DType.BF16) {
        data.setAtIndex(KernelOps.BF16, i, DType.floatToBf16(value));
      } else {
        data.setAtIndex(KernelOps.F32, i, value);
      }
    }
    return new WeightMatrix(data, dtype, rows, columns);
  }

  private static float[] randomVector(Random random, int length) {
    float[] values = new float[length];
    for (int i = 0; i < length; i++) {
      values[i] = (float) random.nextGaussian();
    }
    return values;
  }

  /** fp32 rounding of a length-n sum of unit-scale products: a few ulps times sqrt(n), generously. */
  private static double tolerance(int length) {
    return 1e-5 * Math.sqrt(length) + 1e-6;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectorWidths")
  void dotRowsMatchesScalarForEveryTokenBlockSize(String kernels) {
    KernelOps vector = new VectorKernelOps();
    Random random = new Random(1);
    for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
      for (int columns : SIZES) {
        WeightMatrix weight = randomMatrix(random, 3, columns, dtype);
        int maxTokens = 9;
        float[] x = randomVector(random, maxTokens * (columns + 2));
        int stride = columns + 2;
        float[] single = new float[maxTokens];
        for (int token = 0; token < maxTokens; token++) {
          vector.dotRows(weight, 2, x, 1 + token * stride, stride, 1, single, token, 1);
        }
        for (int tokens = 1; tokens <= maxTokens; tokens++) {
          float[] expected = new float[tokens];
          float[] actual = new float[tokens];
          SCALAR.dotRows(weight, 2, x, 1, stride, tokens, expected, 0, 1);
          vector.dotRows(weight, 2, x, 1, stride, tokens, actual, 0, 1);
          for (int token = 0; token < tokens; token++) {
            assertThat((double) actual[token]).as("%s n=%d tokens=%d token=%d", dtype, columns, tokens, token)
                .isCloseTo(expected[token], org.assertj.core.data.Offset.offset(tolerance(columns)));
            // Blocking four tokens together must not change any token's arithmetic.
            assertThat(actual[token]).as("block invariance %s n=%d", dtype, columns).isEqualTo(single[token]);
          }
        }
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectorWidths")
  void matvecEqualsSingleTokenDotRowsAndMatchesScalar(String kernels) {
    KernelOps vector = new VectorKernelOps();
    Random random = new Random(3);
    for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
      for (int columns : SIZES) {
        int rows = 11;
        WeightMatrix weight = randomMatrix(random, rows, columns, dtype);
        float[] x = randomVector(random, columns + 3);
        float[] actual = new float[rows + 1];
        vector.matvec(weight, 2, rows, x, 3, actual, 1);
        float[] expected = new float[rows + 1];
        SCALAR.matvec(weight, 2, rows, x, 3, expected, 1);
        for (int row = 2; row < rows; row++) {
          float[] single = new float[1];
          vector.dotRows(weight, row, x, 3, 0, 1, single, 0, 0);
          assertThat(actual[row - 1]).as("matvec = dotRows %s n=%d row=%d", dtype, columns, row).isEqualTo(single[0]);
          assertThat((double) actual[row - 1]).as("%s n=%d row=%d", dtype, columns, row)
              .isCloseTo(expected[row - 1], org.assertj.core.data.Offset.offset(tolerance(columns)));
        }
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectorWidths")
  void dotAxpyAndScaleMatchScalar(String kernels) {
    KernelOps vector = new VectorKernelOps();
    Random random = new Random(7);
    for (int length : SIZES) {
      float[] a = randomVector(random, length + 5);
      float[] b = randomVector(random, length + 5);
      assertThat((double) vector.dot(a, 3, b, 2, length))
          .isCloseTo(SCALAR.dot(a, 3, b, 2, length), org.assertj.core.data.Offset.offset(tolerance(length)));

      float[] expected = b.clone();
      float[] actual = b.clone();
      SCALAR.axpy(0.37f, a, 1, expected, 4, length);
      vector.axpy(0.37f, a, 1, actual, 4, length);
      assertThat(actual).as("axpy n=%d (both fma per element)", length).isEqualTo(expected);

      float[] scaledExpected = a.clone();
      float[] scaledActual = a.clone();
      SCALAR.scale(scaledExpected, 2, length, -1.25f);
      vector.scale(scaledActual, 2, length, -1.25f);
      assertThat(scaledActual).isEqualTo(scaledExpected);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectorWidths")
  void linearLayersAreThreadInvariantAndShardable(String kernels) {
    KernelOps vector = new VectorKernelOps();
    Random random = new Random(11);
    int rows = 37;
    int columns = 70;
    int tokens = 11;
    WeightMatrix weight = randomMatrix(random, rows, columns, DType.BF16);
    float[] x = randomVector(random, tokens * columns);
    float[] single = new float[tokens * rows];
    float[] parallel = new float[tokens * rows];
    try (Compute one = new Compute(vector, new Parallel(1)); Compute three = new Compute(vector, new Parallel(3))) {
      Linear.dense(weight).apply(one, x, tokens, single);
      Linear.dense(weight).apply(three, x, tokens, parallel);
      assertThat(parallel).isEqualTo(single);

      // Column-parallel: rank 0 holds rows 20..36, rank 1 rows 0..19 (permuted back by outputRows).
      Linear columnsSplit = new Linear.ColumnParallel(java.util.List.of(
          Linear.ColumnShard.contiguous(weight.rowRange(20, 17), 20),
          Linear.ColumnShard.contiguous(weight.rowRange(0, 20), 0)), rows);
      float[] columnResult = new float[tokens * rows];
      columnsSplit.apply(three, x, tokens, columnResult);
      assertThat(columnResult).isEqualTo(single);

      // Row-parallel, unequal split 30 | 40: not the canonical pieces, so partial sums are added in rank order.
      Linear rowsSplit = new Linear.RowParallel(java.util.List.of(
          new Linear.RowShard(columnSlice(weight, 0, 30), 0), new Linear.RowShard(columnSlice(weight, 30, 40), 30)));
      float[] rowResult = new float[tokens * rows];
      rowsSplit.apply(three, x, tokens, rowResult);
      for (int i = 0; i < single.length; i++) {
        assertThat((double) rowResult[i]).isCloseTo(single[i], org.assertj.core.data.Offset.offset(tolerance(columns)));
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectorWidths")
  void dotRowWindowEqualsTheSameColumnsAsTheirOwnMatrix(String kernels) {
    Random random = new Random(5);
    int[][] windows = {{0, 1}, {3, 17}, {16, 16}, {5, 64}, {64, 128}, {1, 255}, {200, 57}, {0, 257}};
    for (KernelOps ops : new KernelOps[] {SCALAR, new VectorKernelOps()}) {
      for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
        WeightMatrix weight = randomMatrix(random, 3, 257, dtype);
        for (int[] window : windows) {
          int start = window[0];
          int length = window[1];
          WeightMatrix own = columnSlice(weight, start, length);
          int tokens = 6;
          int stride = length + 5;
          float[] x = randomVector(random, tokens * stride);
          float[] fromWindow = new float[tokens];
          float[] fromOwn = new float[tokens];
          float[] oracle = new float[tokens];
          for (int row = 0; row < 3; row++) {
            ops.dotRowWindow(weight, row, start, length, x, 2, stride, tokens, fromWindow, 0, 1);
            ops.dotRows(own, row, x, 2, stride, tokens, fromOwn, 0, 1);
            assertThat(fromWindow).as(ops.name() + " " + dtype + " window " + start + "+" + length)
                .isEqualTo(fromOwn);
            SCALAR.dotRowWindow(weight, row, start, length, x, 2, stride, tokens, oracle, 0, 1);
            for (int token = 0; token < tokens; token++) {
              assertThat((double) fromWindow[token]).isCloseTo(oracle[token],
                  org.assertj.core.data.Offset.offset(tolerance(length)));
            }
          }
        }
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("vectorWidths")
  void rowKindLayersAreBitIdenticalOverPowerOfTwoSplits(String kernels) {
    Random random = new Random(13);
    int rows = 37;
    int columns = 8 * 45;
    WeightMatrix weight = randomMatrix(random, rows, columns, DType.BF16);
    try (Compute compute = new Compute(new VectorKernelOps(), new Parallel(3))) {
      for (int tokens : new int[] {1, 6, 13}) {
        float[] x = randomVector(random, tokens * columns);
        float[] single = new float[tokens * rows];
        Linear.rowReduced(weight).apply(compute, x, tokens, single);
        for (int ranks : new int[] {2, 4, 8, 3}) {
          java.util.List<Linear.RowShard> shards = new java.util.ArrayList<>();
          for (int rank = 0; rank < ranks; rank++) {
            int width = columns / ranks;
            shards.add(new Linear.RowShard(columnSlice(weight, rank * width, width), rank * width));
          }
          Linear.RowParallel split = new Linear.RowParallel(shards);
          float[] result = new float[tokens * rows];
          split.apply(compute, x, tokens, result);
          if (ranks == 3) {
            // Not a power of two: rank-order fallback, close but not the canonical tree.
            assertThat(split.canonical()).isFalse();
            for (int i = 0; i < single.length; i++) {
              assertThat((double) result[i]).isCloseTo(single[i],
                  org.assertj.core.data.Offset.offset(tolerance(columns)));
            }
          } else {
            assertThat(split.canonical()).isTrue();
            assertThat(result).as(ranks + " ranks, " + tokens + " tokens").isEqualTo(single);
          }
        }
      }
    }
    assertThat(Linear.canonicalPieces(columns)).isEqualTo(8);
    assertThat(Linear.canonicalPieces(36)).isEqualTo(4);
    assertThat(Linear.canonicalPieces(35)).isEqualTo(1);
  }

  /**
   * The blocked matrix × matrix kernel against the single-token kernel ({@code dotRow1}), bit for bit per (row,
   * token), and against the scalar oracle within rounding: random row ranges (edge rows beyond the 4-row tile,
   * several panels), column windows of odd widths and tails, token counts below, at and beyond the blocking
   * threshold (edge tokens beyond the 3-token tile), padded input and output strides.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("vectorWidths")
  void dotRowBlockIsBitIdenticalToSingleTokenDotProducts(String kernels) {
    KernelOps vector = new VectorKernelOps();
    Random random = new Random(23);
    int[] tokenCounts = {1, 2, 3, 5, 7, 8, 9, 10, 12, 13, 17, 31, 64};
    int[] widths = {1, 7, 15, 16, 17, 31, 32, 33, 47, 48, 65, 81, 100, 115, 255, 257, 511, 1000, 1023, 2049, 4099};
    for (int trial = 0; trial < 120; trial++) {
      DType dtype = trial % 2 == 0 ? DType.BF16 : DType.F32;
      int length = widths[random.nextInt(widths.length)];
      int columnStart = random.nextInt(4) == 0 ? 0 : random.nextInt(9);
      int rows = 1 + random.nextInt(trial % 5 == 0 ? 140 : 23);
      int rowStart = random.nextInt(rows);
      int rowEnd = rowStart + 1 + random.nextInt(rows - rowStart);
      int tokens = tokenCounts[random.nextInt(tokenCounts.length)];
      WeightMatrix weight = randomMatrix(random, rows, columnStart + length + random.nextInt(3), dtype);
      int xStride = length + random.nextInt(5);
      int xOffset = random.nextInt(4);
      float[] x = randomVector(random, xOffset + tokens * xStride + length);
      int blockRows = rowEnd - rowStart;
      // Output as [token][row] with padding on both axes, as the layers lay it out.
      int outRowStride = 1;
      int outStride = blockRows + random.nextInt(3);
      int outOffset = random.nextInt(3);
      float[] blocked = new float[outOffset + tokens * outStride + blockRows];
      vector.dotRowBlock(weight, rowStart, rowEnd, columnStart, length, x, xOffset, xStride, tokens, blocked,
          outOffset, outRowStride, outStride);
      float[] oracle = new float[blocked.length];
      SCALAR.dotRowBlock(weight, rowStart, rowEnd, columnStart, length, x, xOffset, xStride, tokens, oracle,
          outOffset, outRowStride, outStride);
      float[] single = new float[1];
      for (int row = rowStart; row < rowEnd; row++) {
        for (int token = 0; token < tokens; token++) {
          vector.dotRowWindow(weight, row, columnStart, length, x, xOffset + token * xStride, xStride, 1, single, 0,
              1);
          int at = outOffset + (row - rowStart) * outRowStride + token * outStride;
          assertThat(blocked[at]).as("%s rows [%d, %d) window %d+%d, %d tokens: row %d token %d", dtype, rowStart,
              rowEnd, columnStart, length, tokens, row, token).isEqualTo(single[0]);
          assertThat((double) blocked[at]).isCloseTo(oracle[at], org.assertj.core.data.Offset.offset(tolerance(length)));
        }
      }
    }
  }

  /** A linear layer over many tokens (the blocked path) gives each token what a single-token application gives. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("vectorWidths")
  void prefillEqualsTokenByTokenForEveryLayerKind(String kernels) {
    KernelOps vector = new VectorKernelOps();
    Random random = new Random(29);
    int rows = 45;
    int columns = 8 * 37;
    int tokens = 20;
    WeightMatrix weight = randomMatrix(random, rows, columns, DType.BF16);
    float[] x = randomVector(random, tokens * columns);
    Linear permuted = new Linear.ColumnParallel(java.util.List.of(
        Linear.ColumnShard.contiguous(weight.rowRange(30, 15), 0),
        new Linear.ColumnShard(weight.rowRange(0, 30), java.util.stream.IntStream.range(0, 30)
            .map(row -> 15 + (row * 7) % 30).toArray())), rows);
    try (Compute compute = new Compute(vector, new Parallel(2))) {
      for (Linear layer : new Linear[] {Linear.dense(weight), Linear.rowReduced(weight), permuted}) {
        float[] all = new float[tokens * rows];
        layer.apply(compute, x, tokens, all);
        for (int token = 0; token < tokens; token++) {
          float[] one = new float[rows];
          layer.apply(compute, java.util.Arrays.copyOfRange(x, token * columns, (token + 1) * columns), 1, one);
          assertThat(java.util.Arrays.copyOfRange(all, token * rows, (token + 1) * rows))
              .as("%s token %d", layer.getClass().getSimpleName(), token).isEqualTo(one);
        }
      }
    }
  }

  private static WeightMatrix columnSlice(WeightMatrix weight, int start, int count) {
    int bytes = weight.dtype().byteSize();
    MemorySegment data = MemorySegment.ofArray(new byte[weight.rows() * count * bytes]);
    for (int row = 0; row < weight.rows(); row++) {
      MemorySegment.copy(weight.data(), weight.rowOffset(row) + (long) start * bytes, data,
          (long) row * count * bytes, (long) count * bytes);
    }
    return new WeightMatrix(data, weight.dtype(), weight.rows(), count);
  }
}
