package dev.megabridge.core.spi;

/**
 * One global Megatron parameter of a model.
 *
 * @param name global name: global decoder layer number, global expert number
 * @param mappingName the name looked up in the mapping registry; differs from {@code name} only for copies
 *     Megatron keeps of another parameter (a tied model's output layer on the last stage)
 * @param placement which pipeline stage/chunk holds it
 * @param layer global decoder layer for {@link Placement#DECODER_LAYER}, else -1
 * @param expert global routed-expert id for expert parameters, else -1
 * @param copy whether this is a copy of a parameter owned elsewhere (written on import, never exported)
 */
public record MegatronParam(String name, String mappingName, Placement placement, int layer, int expert,
    boolean copy) {

  public static MegatronParam owned(String name, Placement placement, int layer, int expert) {
    return new MegatronParam(name, name, placement, layer, expert, false);
  }

  /** Where in the pipeline a parameter lives (docs/mappings.md §3.5). */
  public enum Placement {
    /** First stage, first chunk: the vision tower and the word embedding. */
    FIRST_STAGE,
    /** Last stage, last chunk: final norm, output layer, MTP block (and the copies it needs). */
    LAST_STAGE,
    /** The stage and chunk holding decoder layer {@code layer}. */
    DECODER_LAYER
  }
}
