package dev.megabridge.runtime.tokenizer;

/**
 * An entry of {@code added_tokens}: a token matched in the input text before pre-tokenization and never split.
 *
 * @param normalized true if it is matched in the normalized text, false if in the raw input
 * @param special true for control tokens such as {@code <|im_start|>}; decoding renders both kinds as content
 */
public record AddedToken(int id, String content, boolean special, boolean normalized) {}
