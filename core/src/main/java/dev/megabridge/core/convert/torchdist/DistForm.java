package dev.megabridge.core.convert.torchdist;

import dev.megabridge.core.error.InternalException;
import java.util.List;

/**
 * How one global Megatron parameter (its full TP=1 tensor) is stored under torch_dist keys, as a
 * TP=1/EP=1/PP=1 Megatron save writes it (docs/formats.md §3.9–§3.12).
 */
public sealed interface DistForm {

  /** The key the parameter is stored under (for {@link Sections}, the common prefix of the section keys). */
  String key();

  /** The tensor keys the parameter's data lies under: one per section for {@link Sections}, else {@link #key()}. */
  default List<String> storedKeys() {
    return switch (this) {
      case Sections sections -> sections.sections().stream().map(section -> sections.key() + "." + section.name())
          .toList();
      case Whole _, SwigluHalves _, Stacked _ -> List.of(key());
    };
  }

  /** One key holding the whole tensor in one chunk (replicated parameters, TP=1 splits). */
  record Whole(String key) implements DistForm {}

  /**
   * A SwiGLU {@code linear_fc1} {@code [2F, …]}: gate rows and up rows as two chunks of one key
   * (docs/formats.md §3.12).
   */
  record SwigluHalves(String key) implements DistForm {}

  /**
   * A fused parameter stored as one key per consecutive row block of axis 0, {@code <key>.<section>}
   * (GDN {@code in_proj.weight}, {@code conv1d.weight}: docs/formats.md §3.12).
   */
  record Sections(String key, List<Section> sections) implements DistForm {
    public Sections {
      sections = List.copyOf(sections);
      if (sections.isEmpty()) {
        throw new InternalException("'" + key + "' has no sections");
      }
    }

    public long totalRows() {
      return sections.stream().mapToLong(Section::rows).sum();
    }
  }

  /** A named row block of a {@link Sections} parameter. */
  record Section(String name, long rows) {}

  /**
   * Entry {@code index} of {@code count} along a prepended axis of {@code key}: a layer of a homogeneous
   * (stacked) block or a routed expert; one chunk per entry, or per entry and SwiGLU half
   * (docs/formats.md §3.10, §3.11).
   */
  record Stacked(String key, int index, int count, boolean swigluHalves) implements DistForm {
    public Stacked {
      if (index < 0 || index >= count) {
        throw new InternalException("'" + key + "': index " + index + " outside 0.." + (count - 1));
      }
    }
  }
}
