package dev.megabridge.core.spi;

/** Choices of Megatron-side naming that do not depend on the checkpoint. */
public record BridgeOptions(MtpNaming mtpNaming, ExpertNaming expertNaming) {

  public static BridgeOptions defaults() {
    return new BridgeOptions(MtpNaming.CURRENT, ExpertNaming.GROUPED);
  }

  /** Inner name of the MTP transformer layer (megatron-bridge-spec §4.5). */
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

  /** Megatron routed-expert parameter naming (spec §3.9). */
  public enum ExpertNaming {
    /** TEGroupedMLP: {@code experts.linear_fc1.weight<j>}. */
    GROUPED,
    /** SequentialMLP: {@code experts.local_experts.<j>.linear_fc1.weight}. */
    SEQUENTIAL
  }
}
