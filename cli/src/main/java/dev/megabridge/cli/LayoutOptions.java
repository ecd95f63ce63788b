package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
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

  @Option(names = "--mtp-naming", defaultValue = "current", converter = Choices.MtpNamingConverter.class,
      description = "MTP inner layer name written: current (mtp_model_layer) or legacy (transformer_layer).")
  MtpNaming mtpNaming;

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
    options.mtpNaming = MtpNaming.CURRENT;
    options.experts = ExpertNaming.GROUPED;
    return options;
  }

  ParallelLayout layout() {
    return new ParallelLayout(tp, pp, vpp, ep, etp == null ? tp : etp, Optional.ofNullable(firstStageLayers),
        Optional.ofNullable(lastStageLayers));
  }

  BridgeOptions bridgeOptions() {
    return new BridgeOptions(mtpNaming, experts);
  }

  /** Refuses --mtp-naming / --experts other than the defaults where nothing reads them: {@code why} says so. */
  void rejectNaming(String why) {
    if (mtpNaming != MtpNaming.CURRENT || experts != ExpertNaming.GROUPED) {
      throw new UsageException("--mtp-naming and --experts have no effect on " + why);
    }
  }

  /** Refuses every layout and naming flag where nothing reads them: {@code why} says so. */
  void rejectAll(String why) {
    if (!isDefault()) {
      throw new UsageException("--tp/--pp/--vpp/--ep/--etp/--pp-*-stage-layers have no effect on " + why);
    }
    rejectNaming(why);
  }

  boolean isDefault() {
    return tp == 1 && pp == 1 && vpp == 1 && ep == 1 && etp == null && firstStageLayers == null
        && lastStageLayers == null;
  }
}
