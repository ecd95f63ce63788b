package dev.megabridge.runtime.tokenizer;

import java.text.Normalizer;

/** The tokenizer's {@code normalizer}: none, or Unicode NFC (Qwen's). */
enum Normalization {
  NONE,
  NFC;

  String apply(String text) {
    return this == NFC ? Normalizer.normalize(text, Normalizer.Form.NFC) : text;
  }
}
