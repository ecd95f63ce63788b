package dev.megabridge.core.convert;

import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How an HF checkpoint stores the routed experts of an MoE block {@code <block>.mlp.experts.}: packed, as
 * transformers ≥ 5 loads them ({@code experts.gate_up_proj} [E, 2I, H], {@code experts.down_proj} [E, H, I]),
 * or one set of weights per expert ({@code experts.<j>.gate_proj.weight}, {@code up_proj}, {@code down_proj}).
 */
public enum HfExpertLayout {
  PACKED,
  PER_EXPERT;

  private static final Pattern PER_EXPERT_NAME =
      Pattern.compile("^(.*\\.mlp\\.experts\\.)\\d+\\.(gate|up|down)_proj\\.weight$");
  private static final Pattern PACKED_NAME = Pattern.compile("^(.*\\.mlp\\.experts\\.)(gate_up_proj|down_proj)$");

  /** The spelling on the command line: {@code packed}, {@code per-expert}. */
  public String spelling() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** The layouts the expert tensors among {@code names} use (empty for a dense model; two for a mixed one). */
  public static Set<HfExpertLayout> of(Collection<String> names) {
    Set<HfExpertLayout> layouts = EnumSet.noneOf(HfExpertLayout.class);
    for (String name : names) {
      if (PER_EXPERT_NAME.matcher(name).matches()) {
        layouts.add(PER_EXPERT);
      } else if (PACKED_NAME.matcher(name).matches()) {
        layouts.add(PACKED);
      }
    }
    return layouts;
  }

  /**
   * {@code names} with the per-expert tensors of every block replaced by that block's two packed tensors, placed
   * where the block's first expert tensor was; other names keep their order. A bridge detects the packed layout
   * from these names.
   */
  public static Set<String> packedNames(Collection<String> names) {
    Set<String> out = new LinkedHashSet<>();
    for (String name : names) {
      Matcher matcher = PER_EXPERT_NAME.matcher(name);
      if (matcher.matches()) {
        out.add(matcher.group(1) + "gate_up_proj");
        out.add(matcher.group(1) + "down_proj");
      } else {
        out.add(name);
      }
    }
    return out;
  }
}
