package dev.megabridge.runtime.ops;

import java.util.ArrayList;
import java.util.List;

/**
 * A bias-free linear layer {@code y = x·Wᵀ} over inputs {@code [tokens, inFeatures]} and outputs
 * {@code [tokens, outFeatures]}, computed from one weight or from tensor-parallel shards.
 *
 * <p>This is the seam for running from Megatron tensor-parallel checkpoints: a column-parallel layer holds each
 * rank's output rows (concatenated, optionally permuted back into the HF output order), a row-parallel layer holds
 * each rank's input-column slice and combines the rank partial results in a canonical order that a single-rank
 * row-kind layer ({@link #rowReduced}) uses too, so both agree bit for bit.
 */
public sealed interface Linear permits Linear.Dense, Linear.ColumnParallel, Linear.RowParallel {

  int inFeatures();

  int outFeatures();

  /** Bytes of weights read by one application (the whole matrix). */
  long weightBytes();

  /** {@code out[t, j] = Σ_i x[t, i]·W[j, i]}; {@code x} is {@code [tokens, inFeatures]} row-major. */
  void apply(Compute compute, float[] x, int tokens, float[] out);

  static Linear dense(WeightMatrix weight) {
    return new Dense(weight);
  }

  /**
   * A whole row-kind weight computed with the canonical reduction order of {@link RowParallel} (one shard), so
   * that it agrees bit for bit with the same layer split over tensor-parallel ranks.
   */
  static RowParallel rowReduced(WeightMatrix weight) {
    return new RowParallel(List.of(new RowShard(weight, 0)));
  }

  /**
   * The number of column pieces {@code P} of a row-kind layer with {@code inFeatures} inputs: the largest power of
   * two {@code ≤ 8} dividing it (1 when odd). Tensor-parallel splits over up to {@code P} ranks reproduce it.
   */
  static int canonicalPieces(int inFeatures) {
    return inFeatures == 0 ? 1 : Math.min(8, Integer.lowestOneBit(inFeatures));
  }

  /**
   * The layers side by side as one layer: output features are {@code parts[0]}'s, then {@code parts[1]}'s, …
   * (fused q/k/v or gate/up projections computed in one parallel pass). Parts must be column-split or dense.
   */
  static ColumnParallel concat(List<Linear> parts) {
    List<ColumnShard> shards = new ArrayList<>();
    int offset = 0;
    for (Linear part : parts) {
      switch (part) {
        case Dense dense -> shards.add(ColumnShard.contiguous(dense.weight(), offset));
        case ColumnParallel column -> {
          for (ColumnShard shard : column.shards()) {
            int[] rows = shard.outputRows().clone();
            for (int row = 0; row < rows.length; row++) {
              rows[row] += offset;
            }
            shards.add(new ColumnShard(shard.weight(), rows));
          }
        }
        case RowParallel row -> throw new IllegalArgumentException("a row-parallel layer cannot be fused column-wise");
      }
      if (part.inFeatures() != parts.getFirst().inFeatures()) {
        throw new IllegalArgumentException("fused layers disagree on the input width");
      }
      offset += part.outFeatures();
    }
    return new ColumnParallel(shards, offset);
  }

  /** Rows per task such that one task does at least ~64 K multiply-adds. */
  private static int minRows(int inFeatures, int tokens) {
    return Math.max(1, (1 << 16) / Math.max(1, inFeatures * tokens));
  }

  /** One full weight matrix. */
  record Dense(WeightMatrix weight) implements Linear {

    @Override
    public int inFeatures() {
      return weight.columns();
    }

    @Override
    public int outFeatures() {
      return weight.rows();
    }

    @Override
    public long weightBytes() {
      return weight.byteSize();
    }

    @Override
    public void apply(Compute compute, float[] x, int tokens, float[] out) {
      int rows = weight.rows();
      int columns = weight.columns();
      KernelOps ops = compute.ops();
      compute.parallel().forRange(rows, minRows(columns, tokens), (start, end) -> {
        if (tokens == 1) {
          ops.matvec(weight, start, end, x, 0, out, start);
          return;
        }
        ops.dotRowBlock(weight, start, end, 0, columns, x, 0, columns, tokens, out, start, 1, rows);
      });
    }
  }

  /** A column-parallel rank shard: its weight rows land at HF output indices {@code outputRows}. */
  record ColumnShard(WeightMatrix weight, int[] outputRows) {

    public ColumnShard {
      if (outputRows.length != weight.rows()) {
        throw new IllegalArgumentException(outputRows.length + " output rows for a shard of " + weight.rows());
      }
      outputRows = outputRows.clone();
    }

    /** A shard whose rows are the contiguous HF output rows {@code [firstRow, firstRow + rows)}. */
    public static ColumnShard contiguous(WeightMatrix weight, int firstRow) {
      int[] rows = new int[weight.rows()];
      for (int row = 0; row < rows.length; row++) {
        rows[row] = firstRow + row;
      }
      return new ColumnShard(weight, rows);
    }
  }

  /**
   * Output features split over ranks (or fused projections, see {@link #concat}); every shard reads the whole
   * input. One parallel pass covers the rows of all shards, so a fused layer costs one task dispatch.
   */
  record ColumnParallel(List<ColumnShard> shards, int outFeatures) implements Linear {

    /** Rows per single-token block: one small buffer per task for rows scattered to non-contiguous outputs. */
    private static final int BLOCK = 64;

    public ColumnParallel {
      shards = List.copyOf(shards);
      boolean[] covered = new boolean[outFeatures];
      int in = shards.getFirst().weight().columns();
      for (ColumnShard shard : shards) {
        if (shard.weight().columns() != in) {
          throw new IllegalArgumentException("column-parallel shards disagree on the input width");
        }
        for (int row : shard.outputRows()) {
          if (row < 0 || row >= outFeatures || covered[row]) {
            throw new IllegalArgumentException("output row " + row + " out of range or covered twice");
          }
          covered[row] = true;
        }
      }
      int count = shards.stream().mapToInt(shard -> shard.weight().rows()).sum();
      if (count != outFeatures) {
        throw new IllegalArgumentException("shards cover " + count + " of " + outFeatures + " output rows");
      }
    }

    @Override
    public int inFeatures() {
      return shards.getFirst().weight().columns();
    }

    @Override
    public long weightBytes() {
      return shards.stream().mapToLong(shard -> shard.weight().byteSize()).sum();
    }

    @Override
    public void apply(Compute compute, float[] x, int tokens, float[] out) {
      int columns = inFeatures();
      KernelOps ops = compute.ops();
      compute.parallel().forRange(outFeatures, minRows(columns, tokens), (start, end) -> {
        float[] block = tokens == 1 ? new float[BLOCK] : null;
        int shardStart = 0;
        for (ColumnShard shard : shards) {
          int rows = shard.weight().rows();
          int from = Math.max(start, shardStart);
          int to = Math.min(end, shardStart + rows);
          if (from < to) {
            applyRows(ops, shard, from - shardStart, to - shardStart, x, tokens, out, block);
          }
          shardStart += rows;
        }
      });
    }

    /** Local rows {@code [from, to)} of one shard: blocked matrix-vector products for a single token. */
    private void applyRows(KernelOps ops, ColumnShard shard, int from, int to, float[] x, int tokens, float[] out,
        float[] block) {
      WeightMatrix weight = shard.weight();
      int[] outputRows = shard.outputRows();
      if (tokens > 1) {
        // Runs of rows whose outputs are consecutive go to the kernel as one matrix × matrix block.
        for (int runStart = from; runStart < to; ) {
          int runEnd = runStart + 1;
          while (runEnd < to && outputRows[runEnd] == outputRows[runEnd - 1] + 1) {
            runEnd++;
          }
          ops.dotRowBlock(weight, runStart, runEnd, 0, weight.columns(), x, 0, weight.columns(), tokens, out,
              outputRows[runStart], 1, outFeatures);
          runStart = runEnd;
        }
        return;
      }
      for (int blockStart = from; blockStart < to; blockStart += BLOCK) {
        int blockEnd = Math.min(to, blockStart + BLOCK);
        if (contiguous(outputRows, blockStart, blockEnd)) {
          ops.matvec(weight, blockStart, blockEnd, x, 0, out, outputRows[blockStart]);
        } else {
          ops.matvec(weight, blockStart, blockEnd, x, 0, block, 0);
          for (int row = blockStart; row < blockEnd; row++) {
            out[outputRows[row]] = block[row - blockStart];
          }
        }
      }
    }

    private static boolean contiguous(int[] rows, int from, int to) {
      for (int row = from + 1; row < to; row++) {
        if (rows[row] != rows[from] + row - from) {
          return false;
        }
      }
      return true;
    }
  }

  /** A row-parallel rank shard: its weight columns multiply the input features {@code [inputStart, +columns)}. */
  record RowShard(WeightMatrix weight, int inputStart) {}

  /**
   * A row-kind layer (attention output, MLP down projection, …): input features split over {@code t ≥ 1} shards,
   * one per tensor-parallel rank ({@code t = 1} for a single-rank checkpoint, see {@link #rowReduced}).
   *
   * <p>Canonical reduction order (docs/model.md §9.4), so that every tensor-parallel layout gives the single-rank
   * result bit for bit: with {@code n} input features and {@code P = }{@link #canonicalPieces}{@code (n)}, output
   * {@code j} is the balanced pairwise tree {@code ((p0 + p1) + (p2 + p3)) + (…)} over the pieces
   * {@code p_k = dot(W[j, k·n/P, (k+1)·n/P), x[same range])}, each computed by {@link KernelOps#dotRowWindow} (whose
   * arithmetic depends only on the piece length and values). When {@code t} is a power of two, {@code t ≤ P} and the
   * shards are equally wide, shard {@code r} holds exactly the pieces {@code [r·P/t, (r+1)·P/t)}: its own subtree
   * followed by the tree over ranks is the same tree. Any other split (t not a power of two, {@code t > P}, unequal
   * shards) cannot reproduce it: each shard is then one piece and the partial sums are added in rank order (close to,
   * not bit-identical with, one rank).
   */
  record RowParallel(List<RowShard> shards) implements Linear {

    /** Rows per matrix × matrix block of a multi-token application (the partial sums of a block stay small). */
    private static final int ROW_BLOCK = 64;

    public RowParallel {
      shards = List.copyOf(shards);
      int expectedStart = 0;
      int rows = shards.getFirst().weight().rows();
      for (RowShard shard : shards) {
        if (shard.inputStart() != expectedStart || shard.weight().rows() != rows) {
          throw new IllegalArgumentException("row-parallel shards must tile the input in order with equal rows");
        }
        expectedStart += shard.weight().columns();
      }
    }

    @Override
    public int inFeatures() {
      return shards.stream().mapToInt(shard -> shard.weight().columns()).sum();
    }

    @Override
    public int outFeatures() {
      return shards.getFirst().weight().rows();
    }

    @Override
    public long weightBytes() {
      return shards.stream().mapToLong(shard -> shard.weight().byteSize()).sum();
    }

    /** Whether the shards can reproduce the canonical tree (see the class comment). */
    public boolean canonical() {
      int in = inFeatures();
      int ranks = shards.size();
      if (Integer.bitCount(ranks) != 1 || ranks > canonicalPieces(in)) {
        return false;
      }
      return shards.stream().allMatch(shard -> shard.weight().columns() == in / ranks);
    }

    @Override
    public void apply(Compute compute, float[] x, int tokens, float[] out) {
      int rows = outFeatures();
      int in = inFeatures();
      boolean canonical = canonical();
      // Pieces per shard and their length: P/t pieces of n/P when canonical, else each shard one whole piece.
      int piecesPerShard = canonical ? canonicalPieces(in) / shards.size() : 1;
      int pieces = piecesPerShard * shards.size();
      KernelOps ops = compute.ops();
      compute.parallel().forRange(rows, minRows(in, tokens), (start, end) -> {
        int blockRows = Math.min(end - start, tokens == 1 ? 1 : ROW_BLOCK);
        // partial[(r·pieces + k)·tokens + t]: piece k of token t for row r of the current row block.
        float[] partial = new float[blockRows * pieces * tokens];
        for (int blockStart = start; blockStart < end; blockStart += blockRows) {
          int blockEnd = Math.min(end, blockStart + blockRows);
          for (int rank = 0; rank < shards.size(); rank++) {
            RowShard shard = shards.get(rank);
            int length = shard.weight().columns() / piecesPerShard;
            for (int local = 0; local < piecesPerShard; local++) {
              int piece = rank * piecesPerShard + local;
              ops.dotRowBlock(shard.weight(), blockStart, blockEnd, local * length, length, x,
                  shard.inputStart() + local * length, in, tokens, partial, piece * tokens, pieces * tokens, 1);
            }
          }
          for (int row = blockStart; row < blockEnd; row++) {
            int rowPartial = (row - blockStart) * pieces * tokens;
            for (int token = 0; token < tokens; token++) {
              out[token * rows + row] = canonical ? treeSum(partial, rowPartial + token, tokens, pieces)
                  : rankOrderSum(partial, rowPartial + token, tokens, pieces);
            }
          }
        }
      });
    }

    /** {@code ((v0 + v1) + (v2 + v3)) + (…)} over {@code values[offset + k·stride]}, {@code count} a power of two. */
    private static float treeSum(float[] values, int offset, int stride, int count) {
      for (int width = 1; width < count; width *= 2) {
        for (int k = 0; k + width < count; k += 2 * width) {
          values[offset + k * stride] += values[offset + (k + width) * stride];
        }
      }
      return values[offset];
    }

    /** {@code ((v0 + v1) + v2) + …}: the fallback order. */
    private static float rankOrderSum(float[] values, int offset, int stride, int count) {
      float sum = values[offset];
      for (int k = 1; k < count; k++) {
        sum += values[offset + k * stride];
      }
      return sum;
    }
  }
}
