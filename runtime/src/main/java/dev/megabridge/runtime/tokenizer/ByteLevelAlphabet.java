package dev.megabridge.runtime.tokenizer;

import java.util.Arrays;

/**
 * GPT-2's byte-level alphabet: a bijection between the 256 byte values and 256 printable characters, so that any
 * byte string is spelled by a string of vocabulary characters. Printable bytes ({@code '!'..'~'}, {@code '¡'..'¬'},
 * {@code '®'..'ÿ'}) stand for themselves; the other 68 bytes (controls, space, DEL, NBSP, soft hyphen), in
 * increasing order, stand for U+0100, U+0101, ... (so the space byte is {@code 'Ġ'} U+0120).
 */
public final class ByteLevelAlphabet {
  private static final char[] BYTE_TO_CHAR = new char[256];
  /** Indexed by character; -1 where the character is not in the alphabet. Every alphabet character is below 0x144. */
  private static final int[] CHAR_TO_BYTE = new int[0x144];

  static {
    Arrays.fill(CHAR_TO_BYTE, -1);
    int next = 0x100;
    for (int b = 0; b < 256; b++) {
      char c = printable(b) ? (char) b : (char) next++;
      BYTE_TO_CHAR[b] = c;
      CHAR_TO_BYTE[c] = b;
    }
  }

  private ByteLevelAlphabet() {}

  private static boolean printable(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  }

  /** The character that spells byte {@code b} (0..255, or a signed Java byte). */
  public static char charOf(int b) {
    return BYTE_TO_CHAR[b & 0xFF];
  }

  /** The byte spelled by {@code c}, or -1 if {@code c} is not in the alphabet. */
  public static int byteOf(char c) {
    return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
  }

  /** Spells {@code bytes} in the alphabet, one character per byte. */
  public static String encode(byte[] bytes) {
    char[] chars = new char[bytes.length];
    for (int i = 0; i < bytes.length; i++) {
      chars[i] = charOf(bytes[i]);
    }
    return new String(chars);
  }
}
