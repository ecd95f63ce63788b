package dev.megabridge.core.spi;

import java.util.Locale;

/**
 * Choices of Megatron-side naming that do not depend on the checkpoint: the parameter schema, the MTP inner
 * name, the routed-expert naming and the vocabulary padding.
 */
public record BridgeOptions(Schema schema, MtpNaming mtpNaming, ExpertNaming expertNaming, VocabPadding vocabPadding) {

  /** The Megatron-Bridge schema with current names. */
  public static BridgeOptions defaults() {
    return forSchema(Schema.MEGATRON_BRIDGE);
  }

  /** The defaults of {@code schema}: its MTP name, grouped experts, its vocabulary padding. */
  public static BridgeOptions forSchema(Schema schema) {
    return new BridgeOptions(schema, schema.defaultMtpNaming(), ExpertNaming.GROUPED, schema.defaultVocabPadding());
  }

  /** Megatron-Bridge schema with the given naming (no vocabulary padding). */
  public BridgeOptions(MtpNaming mtpNaming, ExpertNaming expertNaming) {
    this(Schema.MEGATRON_BRIDGE, mtpNaming, expertNaming, VocabPadding.none());
  }

  public BridgeOptions withVocabPadding(VocabPadding padding) {
    return new BridgeOptions(schema, mtpNaming, expertNaming, padding);
  }

  /**
   * Which Megatron model the names and transforms are for: Megatron-Bridge's Qwen3.5 model
   * (docs/mappings.md §4) or the native model slime's {@code main} builds (docs/mappings.md §5).
   */
  public enum Schema {
    MEGATRON_BRIDGE("megatron-bridge", MtpNaming.CURRENT),
    SLIME("slime", MtpNaming.LEGACY);

    private final String id;
    private final MtpNaming defaultMtpNaming;

    Schema(String id, MtpNaming defaultMtpNaming) {
      this.id = id;
      this.defaultMtpNaming = defaultMtpNaming;
    }

    /** The name used on the command line and in manifests. */
    public String id() {
      return id;
    }

    /** slime's Megatron pin names the MTP inner layer {@code transformer_layer}; Megatron-Bridge's current one not. */
    public MtpNaming defaultMtpNaming() {
      return defaultMtpNaming;
    }

    /** slime pads the vocabulary as Megatron does (docs/mappings.md §5.2); Megatron-Bridge never pads. */
    public VocabPadding defaultVocabPadding() {
      return this == SLIME ? VocabPadding.megatron() : VocabPadding.none();
    }

    public static Schema ofId(String id) {
      for (Schema schema : values()) {
        if (schema.id.equals(id.toLowerCase(Locale.ROOT))) {
          return schema;
        }
      }
      throw new IllegalArgumentException("unknown schema '" + id + "' (megatron-bridge or slime)");
    }
  }

  /** Inner name of the MTP transformer layer (docs/mappings.md §1.3). */
  public enum MtpNaming {
    /** Current Megatron-core: {@code mtp_model_layer}. */
    CURRENT("mtp_model_layer"),
    /** Older Megatron-LM (slime): {@code transformer_layer}. */
    LEGACY("transformer_layer");

    private final String innerName;

    MtpNaming(String innerName) {
      this.innerName = innerName;
    }

    public String innerName() {
      return innerName;
    }
  }

  /** Megatron routed-expert parameter naming (docs/mappings.md §2.6). */
  public enum ExpertNaming {
    /** TEGroupedMLP: {@code experts.linear_fc1.weight<j>}. */
    GROUPED,
    /** SequentialMLP: {@code experts.local_experts.<j>.linear_fc1.weight}. */
    SEQUENTIAL
  }
}
