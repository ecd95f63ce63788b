package dev.megabridge.runtime.ops;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Token embedding lookup over a table stored as contiguous row ranges: one matrix for an HF checkpoint, one
 * slice of the vocabulary per tensor-parallel rank for Megatron's vocab-parallel embedding (the column split of
 * {@code word_embeddings}, docs/mappings.md §2), where the rank owning a token supplies its row (docs/model.md §9.1).
 */
public record TokenEmbedding(List<Part> parts, int rows, int columns) {

  /** Rows {@code [firstRow, firstRow + table.rows())} of the embedding. */
  public record Part(WeightMatrix table, int firstRow) {}

  public TokenEmbedding {
    parts = parts.stream().sorted(Comparator.comparingInt(Part::firstRow)).toList();
    int expected = 0;
    for (Part part : parts) {
      if (part.firstRow() != expected || part.table().columns() != columns) {
        throw new IllegalArgumentException("embedding parts must tile [0, " + rows + ") with " + columns + " columns");
      }
      expected += part.table().rows();
    }
    if (expected != rows) {
      throw new IllegalArgumentException("embedding parts cover " + expected + " of " + rows + " rows");
    }
  }

  /** The table of {@code layer} (the same weight as the tied output projection): each part a contiguous range. */
  public static TokenEmbedding of(Linear layer) {
    List<Part> parts = new ArrayList<>();
    switch (layer) {
      case Linear.Dense dense -> parts.add(new Part(dense.weight(), 0));
      case Linear.ColumnParallel column -> {
        for (Linear.ColumnShard shard : column.shards()) {
          int[] rows = shard.outputRows();
          for (int row = 1; row < rows.length; row++) {
            if (rows[row] != rows[0] + row) {
              throw new IllegalArgumentException("embedding shard rows are not a contiguous vocabulary range");
            }
          }
          parts.add(new Part(shard.weight(), rows[0]));
        }
      }
      case Linear.RowParallel row -> throw new IllegalArgumentException("an embedding table cannot be row-split");
    }
    return new TokenEmbedding(parts, layer.outFeatures(), layer.inFeatures());
  }

  /** Row {@code row} widened to fp32 into {@code out[offset ..]}. */
  public void copyRow(int row, float[] out, int offset) {
    for (Part part : parts) {
      if (row < part.firstRow() + part.table().rows()) {
        part.table().copyRow(row - part.firstRow(), out, offset);
        return;
      }
    }
    throw new IndexOutOfBoundsException("row " + row + " of an embedding with " + rows + " rows");
  }
}
