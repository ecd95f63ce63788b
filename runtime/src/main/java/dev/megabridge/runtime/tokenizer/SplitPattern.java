package dev.megabridge.runtime.tokenizer;

import dev.megabridge.core.error.UnsupportedModelException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code Split} pre-tokenizer with behaviour {@code Isolated}: every match of the pattern is one piece, and so
 * is every non-empty stretch between matches. {@code tokenizers} runs the pattern in Oniguruma; this class admits
 * only the regex constructs whose meaning is the same in {@link java.util.regex} compiled with
 * {@link Pattern#UNICODE_CHARACTER_CLASS} (so {@code \s} is Unicode White_Space and {@code (?i)} folds Unicode case):
 * literals, escaped punctuation, {@code \s \S \r \n \t \f}, {@code \p{..}}/{@code \P{..}} of a general category,
 * classes {@code [...]} of those, groups {@code (...) (?:...) (?i:...) (?=...) (?!...)}, alternation and greedy or
 * lazy quantifiers. Anything else ({@code .}, anchors, {@code \w \d \b}, back references, class intersection,
 * possessive quantifiers, ...) is rejected, naming the construct, rather than run with a possibly different meaning.
 */
final class SplitPattern {
  private static final Set<String> CATEGORIES = Set.of("L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me",
      "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs",
      "Zl", "Zp", "C", "Cc", "Cf", "Co", "Cn");
  /** Escapes that mean the same in both engines ({@code \v} does not: a vertical tab in Oniguruma, a class in Java). */
  private static final String SIMPLE_ESCAPES = "sSrntf";
  private static final String ESCAPABLE_PUNCTUATION = "\\.^$|?*+()[]{}-/'\"!#%&,:;<=>@_`~";

  private final Path file;
  private final Pattern pattern;

  private SplitPattern(Path file, Pattern pattern) {
    this.file = file;
    this.pattern = pattern;
  }

  /** Checks {@code regex} (the {@code pattern.Regex} of a Split in {@code file}) and compiles it. */
  static SplitPattern compile(Path file, String regex) {
    new Checker(file, regex).check();
    Pattern pattern = Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
    if (pattern.matcher("").matches()) {
      throw new UnsupportedModelException(file + ": pre_tokenizer Split pattern matches the empty string, which"
          + " megabridge's tokenizer does not support: " + regex);
    }
    return new SplitPattern(file, pattern);
  }

  /** Hands the pieces of {@code text} to {@code sink} in order; their concatenation is {@code text}. */
  void split(String text, Consumer<String> sink) {
    Matcher matcher = pattern.matcher(text);
    int end = 0;
    while (matcher.find()) {
      if (matcher.start() == matcher.end()) {
        throw new UnsupportedModelException(file + ": pre_tokenizer Split pattern " + pattern.pattern()
            + " matched the empty string at offset " + matcher.start() + " of the input; such patterns are not"
            + " supported");
      }
      if (matcher.start() > end) {
        sink.accept(text.substring(end, matcher.start()));
      }
      sink.accept(text.substring(matcher.start(), matcher.end()));
      end = matcher.end();
    }
    if (end < text.length()) {
      sink.accept(text.substring(end));
    }
  }

  /** The pieces of {@code text}, for tests and diagnostics. */
  List<String> split(String text) {
    List<String> pieces = new ArrayList<>();
    split(text, pieces::add);
    return pieces;
  }

  /** A recursive-descent reading of the admitted subset; it only validates, Java compiles the pattern itself. */
  private static final class Checker {
    private final Path file;
    private final String regex;
    private int at;

    Checker(Path file, String regex) {
      this.file = file;
      this.regex = regex;
    }

    void check() {
      if (regex.isEmpty()) {
        throw unsupported("an empty pattern");
      }
      alternation();
      if (at < regex.length()) {
        throw unsupported("an unbalanced ')'");
      }
    }

    private void alternation() {
      sequence();
      while (at < regex.length() && regex.charAt(at) == '|') {
        at++;
        sequence();
      }
    }

    private void sequence() {
      while (at < regex.length() && regex.charAt(at) != '|' && regex.charAt(at) != ')') {
        atom();
        quantifier();
      }
    }

    private void atom() {
      int start = at;
      char c = regex.charAt(at);
      switch (c) {
        case '(' -> {
          at++;
          if (regex.startsWith("?:", at) || regex.startsWith("?=", at) || regex.startsWith("?!", at)) {
            at += 2;
          } else if (regex.startsWith("?i:", at)) {
            at += 3;
          } else if (at < regex.length() && regex.charAt(at) == '?') {
            throw unsupported("the group '" + regex.substring(start, Math.min(regex.length(), start + 4)) + "'");
          }
          alternation();
          if (at >= regex.length() || regex.charAt(at) != ')') {
            throw unsupported("an unclosed group opened at offset " + start);
          }
          at++;
        }
        case '[' -> characterClass();
        case '\\' -> escape();
        case '.', '^', '$' -> throw unsupported("'" + c + "' (its meaning differs between regex engines)");
        case '*', '+', '?', '{' -> throw unsupported("a quantifier with nothing to repeat at offset " + at);
        default -> literal();
      }
    }

    private void literal() {
      int codePoint = regex.codePointAt(at);
      if (Character.isISOControl(codePoint) || Character.isWhitespace(codePoint)) {
        if (codePoint != ' ') {
          throw unsupported(String.format("the raw character U+%04X", codePoint));
        }
      }
      at += Character.charCount(codePoint);
    }

    private void escape() {
      if (at + 1 >= regex.length()) {
        throw unsupported("a trailing '\\'");
      }
      char c = regex.charAt(at + 1);
      if (c == 'p' || c == 'P') {
        int close = regex.indexOf('}', at);
        if (at + 2 >= regex.length() || regex.charAt(at + 2) != '{' || close < 0) {
          throw unsupported("'\\" + c + "' without a {category}");
        }
        String category = regex.substring(at + 3, close);
        if (!CATEGORIES.contains(category)) {
          throw unsupported("the property '\\" + c + "{" + category + "}' (only general categories are supported)");
        }
        at = close + 1;
      } else if (SIMPLE_ESCAPES.indexOf(c) >= 0 || ESCAPABLE_PUNCTUATION.indexOf(c) >= 0) {
        at += 2;
      } else {
        throw unsupported("the escape '\\" + c + "'");
      }
    }

    private void characterClass() {
      int start = at;
      at++;
      if (at < regex.length() && regex.charAt(at) == '^') {
        at++;
      }
      boolean first = true;
      while (at < regex.length() && (regex.charAt(at) != ']' || first)) {
        char c = regex.charAt(at);
        if (c == ']') {
          throw unsupported("a ']' first in a class at offset " + at);
        } else if (c == '[') {
          throw unsupported("a nested class or '[' inside a class at offset " + at);
        } else if (c == '&' && regex.startsWith("&&", at)) {
          throw unsupported("a class intersection '&&' at offset " + at);
        } else if (c == '\\') {
          escape();
        } else if (c == '-' && !first && at + 1 < regex.length() && regex.charAt(at + 1) != ']') {
          throw unsupported("a range in a class at offset " + at);
        } else {
          literal();
        }
        first = false;
      }
      if (at >= regex.length()) {
        throw unsupported("an unclosed class opened at offset " + start);
      }
      at++;
    }

    private void quantifier() {
      if (at >= regex.length()) {
        return;
      }
      char c = regex.charAt(at);
      if (c == '*' || c == '+' || c == '?') {
        at++;
      } else if (c == '{') {
        int close = regex.indexOf('}', at);
        if (close < 0 || !regex.substring(at + 1, close).matches("[0-9]+(,[0-9]*)?")) {
          throw unsupported("the repetition at offset " + at);
        }
        at = close + 1;
      } else {
        return;
      }
      if (at < regex.length() && regex.charAt(at) == '?') {
        at++; // lazy
      } else if (at < regex.length() && regex.charAt(at) == '+') {
        throw unsupported("a possessive quantifier at offset " + at);
      }
      if (at < regex.length() && "*+?{".indexOf(regex.charAt(at)) >= 0) {
        throw unsupported("a repeated quantifier at offset " + at);
      }
    }

    private UnsupportedModelException unsupported(String what) {
      return new UnsupportedModelException(file + ": pre_tokenizer Split pattern uses " + what
          + ", which megabridge's tokenizer does not support: " + regex);
    }
  }
}
