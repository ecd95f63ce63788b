package dev.megabridge.runtime.tokenizer;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in a text the way {@code tokenizers} does (Aho-Corasick, leftmost-longest): scanning left to
 * right, at the first position where any token starts, the longest token starting there is taken; the scan resumes
 * after it. The text between matches is handed on unchanged.
 */
final class AddedTokenMatcher {
  /** What the matcher hands on: the stretches of text between tokens, and the tokens. */
  interface Sink {
    void text(String text);

    void token(AddedToken token);
  }

  /** Tokens by their first character, longest first. */
  private final Map<Character, List<AddedToken>> byFirstChar = new HashMap<>();
  /** The {@code content} the tokens are matched by (their content, normalized where the token says so). */
  private final Map<AddedToken, String> matchedContent = new HashMap<>();

  AddedTokenMatcher(Collection<AddedToken> tokens, Normalization normalization) {
    for (AddedToken token : tokens) {
      String content = token.normalized() ? normalization.apply(token.content()) : token.content();
      matchedContent.put(token, content);
      byFirstChar.computeIfAbsent(content.charAt(0), c -> new ArrayList<>()).add(token);
    }
    Comparator<AddedToken> longestFirst = Comparator.comparingInt(t -> -matchedContent.get(t).length());
    byFirstChar.values().forEach(list -> list.sort(longestFirst));
  }

  void split(String text, Sink sink) {
    if (byFirstChar.isEmpty()) {
      if (!text.isEmpty()) {
        sink.text(text);
      }
      return;
    }
    int textStart = 0;
    int i = 0;
    while (i < text.length()) {
      AddedToken match = longestAt(text, i);
      if (match == null) {
        i++;
        continue;
      }
      if (i > textStart) {
        sink.text(text.substring(textStart, i));
      }
      sink.token(match);
      i += matchedContent.get(match).length();
      textStart = i;
    }
    if (textStart < text.length()) {
      sink.text(text.substring(textStart));
    }
  }

  private AddedToken longestAt(String text, int i) {
    List<AddedToken> candidates = byFirstChar.get(text.charAt(i));
    if (candidates != null) {
      for (AddedToken token : candidates) {
        if (text.startsWith(matchedContent.get(token), i)) {
          return token;
        }
      }
    }
    return null;
  }
}
