package dev.megabridge.core.mapping;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A parameter-name pattern (docs/mappings.md §1.1): {@code *} matches one or more ASCII digits, {@code **} matches
 * anything (dots included, possibly empty); every other character is literal; matches are anchored. A
 * pattern without wildcards is compared as a plain string. Compiled once, at construction.
 */
public final class NamePattern {
  private final String text;
  private final Pattern regex;
  private final int wildcards;

  public NamePattern(String text) {
    this.text = text;
    this.wildcards = countWildcards(text);
    this.regex = wildcards == 0 ? null : Pattern.compile(toRegex(text));
  }

  /** Number of wildcards: each {@code **} counts one, then each remaining {@code *}. */
  public static int countWildcards(String pattern) {
    int doubles = 0;
    int index = pattern.indexOf("**");
    while (index >= 0) {
      doubles++;
      index = pattern.indexOf("**", index + 2);
    }
    int singles = 0;
    for (char c : pattern.replace("**", "").toCharArray()) {
      if (c == '*') {
        singles++;
      }
    }
    return doubles + singles;
  }

  private static String toRegex(String pattern) {
    StringBuilder regex = new StringBuilder("^");
    int position = 0;
    while (position < pattern.length()) {
      if (pattern.startsWith("**", position)) {
        regex.append("(.*)");
        position += 2;
      } else if (pattern.charAt(position) == '*') {
        regex.append("(\\d+)");
        position++;
      } else {
        int next = position;
        while (next < pattern.length() && pattern.charAt(next) != '*') {
          next++;
        }
        regex.append(Pattern.quote(pattern.substring(position, next)));
        position = next;
      }
    }
    return regex.append('$').toString();
  }

  public String text() {
    return text;
  }

  public int wildcards() {
    return wildcards;
  }

  /** The captured strings in pattern order when {@code name} matches, else empty. */
  public Optional<List<String>> match(String name) {
    if (regex == null) {
      return text.equals(name) ? Optional.of(List.of()) : Optional.empty();
    }
    Matcher matcher = regex.matcher(name);
    if (!matcher.matches()) {
      return Optional.empty();
    }
    List<String> captures = new ArrayList<>(matcher.groupCount());
    for (int group = 1; group <= matcher.groupCount(); group++) {
      captures.add(matcher.group(group));
    }
    return Optional.of(List.copyOf(captures));
  }

  /**
   * Substitutes captures into {@code pattern} (docs/mappings.md §1.2): every {@code **} left to right first, then every
   * remaining {@code *}; wildcards left over when the captures run out stay literal.
   */
  public static String substitute(String pattern, List<String> captures) {
    int next = 0;
    StringBuilder out = new StringBuilder();
    int position = 0;
    while (position < pattern.length()) {
      if (pattern.startsWith("**", position) && next < captures.size()) {
        out.append(captures.get(next++));
        position += 2;
      } else if (pattern.startsWith("**", position)) {
        out.append("**");
        position += 2;
      } else {
        out.append(pattern.charAt(position++));
      }
    }
    String afterDoubles = out.toString();
    out.setLength(0);
    for (position = 0; position < afterDoubles.length(); position++) {
      char c = afterDoubles.charAt(position);
      boolean isDouble = afterDoubles.startsWith("**", position);
      if (isDouble) {
        out.append("**");
        position++;
      } else if (c == '*' && next < captures.size()) {
        out.append(captures.get(next++));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  @Override
  public String toString() {
    return text;
  }
}
