package dev.megabridge.core.spi;

import dev.megabridge.core.error.LayoutException;

/**
 * How many rows the Megatron embedding and output layer hold for a vocabulary of {@code V} tokens. Megatron pads
 * {@code V} up to a multiple of {@code make_vocab_size_divisible_by × TP} (docs/mappings.md §5.2); the pad
 * rows are zeros on import and are dropped on export, so the HF side always has {@code V} rows.
 */
public sealed interface VocabPadding {

  /** Megatron's default {@code make_vocab_size_divisible_by}. */
  int MEGATRON_DIVISOR = 128;

  /** {@code V} rows: no padding (Megatron-Bridge's schema, or {@code --no-pad-vocab}). */
  record None() implements VocabPadding {
    @Override
    public long rows(long vocabSize, int splitSize) {
      return vocabSize;
    }

    @Override
    public String describe() {
      return "none";
    }
  }

  /**
   * {@code ceil(V / (divisor·t))·divisor·t} rows, where {@code t} is {@code tensorParallel} when fixed (a
   * torch_dist checkpoint is stored at TP 1 for a run of TP t) and the split size otherwise.
   */
  record Multiple(int divisor, int tensorParallel) implements VocabPadding {
    public Multiple {
      if (divisor < 1 || tensorParallel < 0) {
        throw new IllegalArgumentException("divisor " + divisor + ", tensor parallel " + tensorParallel);
      }
    }

    @Override
    public long rows(long vocabSize, int splitSize) {
      long unit = (long) divisor * (tensorParallel > 0 ? tensorParallel : splitSize);
      return (vocabSize + unit - 1) / unit * unit;
    }

    @Override
    public VocabPadding atTensorParallel(int tp) {
      return new Multiple(divisor, tp);
    }

    @Override
    public String describe() {
      return "multiple of " + divisor + " x TP" + (tensorParallel > 0 ? " (TP " + tensorParallel + ")" : "");
    }
  }

  /** Exactly {@code rows} rows ({@code --pad-vocab-to N}). */
  record Exactly(long rows) implements VocabPadding {
    public Exactly {
      if (rows < 1) {
        throw new IllegalArgumentException("padded vocabulary size " + rows);
      }
    }

    @Override
    public long rows(long vocabSize, int splitSize) {
      if (rows < vocabSize) {
        throw new LayoutException("padded vocabulary size " + rows + " is smaller than vocab_size " + vocabSize);
      }
      return rows;
    }

    @Override
    public String describe() {
      return "to " + rows;
    }
  }

  /** The Megatron row count for a vocabulary of {@code vocabSize} split over {@code splitSize} ranks. */
  long rows(long vocabSize, int splitSize);

  /** The same padding with the tensor-parallel size fixed (for checkpoints stored unsplit). */
  default VocabPadding atTensorParallel(int tp) {
    return this;
  }

  String describe();

  static VocabPadding none() {
    return new None();
  }

  static VocabPadding megatron() {
    return new Multiple(MEGATRON_DIVISOR, 0);
  }
}
