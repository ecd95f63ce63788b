package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.VocabPadding;
import java.util.Optional;
import picocli.CommandLine.Option;

/** Parallel layout and Megatron naming options. */
public final class LayoutOptions {
  @Option(names = "--tp", defaultValue = "1", description = "Tensor-parallel size (default ${DEFAULT-VALUE}).")
  int tp;

  @Option(names = "--pp", defaultValue = "1", description = "Pipeline-parallel size (default ${DEFAULT-VALUE}).")
  int pp;

  @Option(names = "--vpp", defaultValue = "1", description = "Virtual pipeline chunks per stage (default ${DEFAULT-VALUE}).")
  int vpp;

  @Option(names = "--ep", defaultValue = "1", description = "Expert-parallel size (default ${DEFAULT-VALUE}).")
  int ep;

  @Option(names = "--etp",
      description = "Expert-tensor-parallel size (default: the TP size, as in Megatron-core; no effect on a dense model).")
  Integer etp;

  @Option(names = "--pp-first-stage-layers", description = "Decoder layers on the first pipeline stage.")
  Integer firstStageLayers;

  @Option(names = "--pp-last-stage-layers", description = "Decoder layers on the last pipeline stage.")
  Integer lastStageLayers;

  @Option(names = "--schema", defaultValue = "megatron-bridge", converter = Choices.SchemaConverter.class,
      description = "Megatron model the names are for: megatron-bridge (Megatron-Bridge's Qwen3.5 model) or slime "
          + "(slime main's native model; default ${DEFAULT-VALUE}).")
  Schema schema;

  @Option(names = "--mtp-naming", converter = Choices.MtpNamingConverter.class,
      description = "MTP inner layer name written: current (mtp_model_layer) or legacy (transformer_layer); "
          + "default: current for megatron-bridge, legacy for slime (the only name slime knows).")
  MtpNaming mtpNaming;

  @Option(names = "--pad-vocab-to", description = "slime schema: rows of the embedding and output layer "
      + "(default: Megatron's padding, a multiple of 128 x TP).")
  Long padVocabTo;

  @Option(names = "--no-pad-vocab", description = "slime schema: write the vocabulary unpadded (vocab_size rows).")
  boolean noPadVocab;

  @Option(names = "--experts", defaultValue = "grouped", converter = Choices.ExpertNamingConverter.class,
      description = "Megatron expert naming: grouped (experts.linear_fc1.weight<j>) or sequential (local_experts.<j>.).")
  ExpertNaming experts;

  /** Options as the command line would give them, for programmatic use (demo). */
  static LayoutOptions of(int tp, int pp, int ep) {
    LayoutOptions options = new LayoutOptions();
    options.tp = tp;
    options.pp = pp;
    options.vpp = 1;
    options.ep = ep;
    options.schema = Schema.MEGATRON_BRIDGE;
    options.experts = ExpertNaming.GROUPED;
    return options;
  }

  /** The same options for {@code schema} (programmatic use: demo). */
  LayoutOptions withSchema(Schema schema) {
    this.schema = schema;
    return this;
  }

  ParallelLayout layout() {
    return new ParallelLayout(tp, pp, vpp, ep, etp == null ? tp : etp, Optional.ofNullable(firstStageLayers),
        Optional.ofNullable(lastStageLayers));
  }

  BridgeOptions bridgeOptions() {
    if (schema == Schema.SLIME && mtpNaming == MtpNaming.CURRENT) {
      throw new UsageException("--mtp-naming current: slime's Megatron names the MTP inner layer transformer_layer");
    }
    if (schema != Schema.SLIME && (padVocabTo != null || noPadVocab)) {
      throw new UsageException("--pad-vocab-to / --no-pad-vocab apply to --schema slime (Megatron-Bridge never pads "
          + "the vocabulary)");
    }
    if (padVocabTo != null && noPadVocab) {
      throw new UsageException("--pad-vocab-to and --no-pad-vocab contradict each other");
    }
    if (padVocabTo != null && padVocabTo < 1) {
      throw new UsageException("--pad-vocab-to " + padVocabTo + ": must be positive");
    }
    BridgeOptions defaults = BridgeOptions.forSchema(schema);
    VocabPadding padding = noPadVocab ? VocabPadding.none()
        : padVocabTo != null ? new VocabPadding.Exactly(padVocabTo) : defaults.vocabPadding();
    return new BridgeOptions(schema, mtpNaming == null ? defaults.mtpNaming() : mtpNaming, experts, padding);
  }

  /** Refuses naming options other than the defaults where nothing reads them: {@code why} says so. */
  void rejectNaming(String why) {
    if (mtpNaming != null || experts != ExpertNaming.GROUPED || padVocabTo != null || noPadVocab) {
      throw new UsageException("--mtp-naming, --experts and the vocabulary padding options have no effect on " + why);
    }
  }

  /** Refuses {@code --schema} other than the default where the schema is read from the checkpoint. */
  void rejectSchema(String why) {
    if (schema != Schema.MEGATRON_BRIDGE) {
      throw new UsageException("--schema has no effect on " + why);
    }
  }

  /** Refuses every layout and naming flag where nothing reads them: {@code why} says so. */
  void rejectAll(String why) {
    if (!isDefault()) {
      throw new UsageException("--tp/--pp/--vpp/--ep/--etp/--pp-*-stage-layers have no effect on " + why);
    }
    rejectNaming(why);
    rejectSchema(why);
  }

  boolean isDefault() {
    return tp == 1 && pp == 1 && vpp == 1 && ep == 1 && etp == null && firstStageLayers == null
        && lastStageLayers == null;
  }
}
