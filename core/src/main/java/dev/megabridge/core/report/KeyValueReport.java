package dev.megabridge.core.report;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;

/**
 * A report a person reads as indented {@code key: value} lines, one per key of its JSON form, in the same order:
 * byte counts with a human-readable size, durations ({@code *seconds}) and other fractions rounded, nested objects
 * indented, a per-rank list ({@code ranks}) as a table with its {@code --ranks} indices and totals.
 */
public interface KeyValueReport extends Report {

  @Override
  default String describe() {
    return lines(ReportJson.tree(this), "");
  }

  /** The lines of a JSON object, each key prefixed with {@code indent}, without the last line break. */
  static String lines(JsonNode object, String indent) {
    List<String> lines = new ArrayList<>();
    for (Map.Entry<String, JsonNode> field : object.properties()) {
      String key = field.getKey();
      JsonNode value = field.getValue();
      if (value.isObject()) {
        lines.add(indent + key + ":");
        if (!value.isEmpty()) {
          lines.add(lines(value, indent + "  "));
        }
      } else if (key.equals("ranks") && value.isArray() && !value.isEmpty() && value.get(0).isObject()) {
        lines.add(rankTable(value, indent));
      } else if (value.isArray() && !value.isEmpty() && value.get(0).isObject()) {
        lines.add(indent + key + ":");
        value.forEach(item -> lines.add(indent + "  - " + javaText(item)));
      } else if (key.equals("bytes") && value.isNumber()) {
        lines.add(indent + key + ": " + ByteSizes.format(value.longValue()) + " (" + value.asText() + ")");
      } else if (key.endsWith("seconds") && value.isDouble()) {
        lines.add(indent + key + ": " + String.format(Locale.ROOT, "%.2f s", value.doubleValue()));
      } else if (value.isDouble()) {
        lines.add(indent + key + ": " + String.format(Locale.ROOT, "%.3f", value.doubleValue()));
      } else if (value.isArray() && value.isEmpty() || value.isTextual() && value.asText().isEmpty()) {
        lines.add(indent + key + ": none");
      } else {
        lines.add(indent + key + ": " + javaText(value));
      }
    }
    return String.join("\n", lines);
  }

  /** The per-rank plan as a table: index (as --ranks takes it), folder, tensors, size; then the totals. */
  private static String rankTable(JsonNode ranks, String indent) {
    List<Integer> indices = new ArrayList<>();
    ranks.forEach(rank -> indices.add(rank.get("index").intValue()));
    StringBuilder table = new StringBuilder(indent + "ranks: " + ranks.size() + " (indices "
        + RankList.format(indices) + ")\n");
    String row = indent + "  %5s  %-18s %8s %12s";
    table.append(String.format(Locale.ROOT, row, "index", "rank", "tensors", "size")).append('\n');
    long tensors = 0;
    long bytes = 0;
    for (JsonNode rank : ranks) {
      long rankTensors = rank.get("tensors").longValue();
      long rankBytes = rank.get("bytes").longValue();
      table.append(String.format(Locale.ROOT, row, rank.get("index").asText(), rank.get("rank").asText(), rankTensors,
          ByteSizes.format(rankBytes))).append('\n');
      tensors += rankTensors;
      bytes += rankBytes;
    }
    return table.append(String.format(Locale.ROOT, row, "total", "", tensors, ByteSizes.format(bytes))).toString();
  }

  /** A value as Java's collections print it: {@code {key=value, ...}}, {@code [a, b]}, plain scalars. */
  private static String javaText(JsonNode value) {
    if (value.isObject()) {
      StringJoiner out = new StringJoiner(", ", "{", "}");
      value.properties().forEach(field -> out.add(field.getKey() + "=" + javaText(field.getValue())));
      return out.toString();
    }
    if (value.isArray()) {
      StringJoiner out = new StringJoiner(", ", "[", "]");
      value.forEach(item -> out.add(javaText(item)));
      return out.toString();
    }
    return value.isDouble() ? Double.toString(value.doubleValue()) : value.asText();
  }
}
