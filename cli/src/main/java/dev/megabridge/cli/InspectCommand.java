package dev.megabridge.cli;

import dev.megabridge.core.convert.HfDtypes;
import dev.megabridge.core.convert.Inspection;
import dev.megabridge.core.convert.ShardsManifest;
import dev.megabridge.core.convert.torchdist.TorchDistCheckpoint;
import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.quant.TensorParallelReport;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Describes an HF folder or a Megatron shards folder; with a layout, the per-rank plan. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Describe an HF checkpoint (or config-only folder) or a megabridge Megatron folder, and check it "
        + "completely. With --tp/--pp/... prints the per-rank plan without converting.")
public final class InspectCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder, config-only folder, or Megatron shards folder.")
  Path directory;

  @Mixin
  HfConfigOption hfConfig;

  @Option(names = "--verify",
      description = "Megatron folders: read every byte once and check every checksum (torch_dist: each zip record's "
          + "CRC-32; shards: each rank file's header and tensor CRC-32s). Exit 3 on a mismatch, or when the folder "
          + "records no checksums.")
  boolean verify;

  @Option(names = "--allow-incomplete",
      description = "Exit 0 for a shards folder whose ranks are not all written yet (a multi-node import in progress).")
  boolean allowIncomplete;

  @Mixin
  CommonOptions common;

  @Mixin
  LayoutOptions layout;

  @Mixin
  MixedDtypesOption dtypes;

  @Mixin
  TensorParallelCheckOptions tpCheck;

  @Override
  public Integer call() {
    Output.existingDirectory(directory, "folder");
    boolean shards = ShardsManifest.isPresent(directory);
    boolean torchDist = !shards && TorchDistCheckpoint.isPresent(directory);
    if (shards || torchDist) {
      layout.rejectAll("inspect of a Megatron folder (its layout is the one it was written with)");
    }
    if (hfConfig.given() && !torchDist) {
      throw new UsageException("--hf-config applies to torch_dist checkpoints only; " + directory + " is not one");
    }
    if (verify && !shards && !torchDist) {
      throw new UsageException("--verify checks the checksums of a Megatron folder; "
          + directory + " is an HF folder, whose safetensors files carry none");
    }
    if (tpCheck.requested() && (shards || torchDist)) {
      throw new UsageException("--check-tp checks a blockwise FP8 HF folder; " + directory + " is a Megatron folder");
    }
    if (shards) {
      Inspection.Shards report = Inspection.shards(directory, verify, AutoBridge.discover());
      Output.print(common, report);
      return report.complete() ? 0 : incompleteExitCode();
    }
    if (torchDist) {
      Output.print(common, Inspection.torchDist(directory, hfConfig.folder(), verify, AutoBridge.discover()));
      return 0;
    }
    Inspection.Hf report = inspectHf(directory, layout, dtypes.policy());
    if (!tpCheck.requested()) {
      Output.print(common, report);
      return 0;
    }
    // The TP check runs after the report is printed (text) or joins it as "tp_check" (JSON).
    if (!common.json) {
      Output.print(common, report);
    }
    TensorParallelReport verdicts = tpCheck.check(directory);
    Output.print(common, common.json ? report.withTpCheck(verdicts) : verdicts);
    tpCheck.enforce(verdicts);
    return 0;
  }

  /** An incomplete shards folder is bad input (exit 3) unless {@code --allow-incomplete} says it is expected. */
  private int incompleteExitCode() {
    if (allowIncomplete) {
      return 0;
    }
    System.err.println("error: " + directory + ": incomplete shards folder (rank files missing); pass "
        + "--allow-incomplete to accept it");
    return BridgeException.ExitCode.BAD_INPUT.code();
  }

  /** The report of an HF folder with mixed dtypes an error. */
  static Inspection.Hf inspectHf(Path directory, LayoutOptions layoutOptions) {
    return inspectHf(directory, layoutOptions, MixedDtypesOption.policy(false));
  }

  static Inspection.Hf inspectHf(Path directory, LayoutOptions layoutOptions, HfDtypes.Policy dtypePolicy) {
    return Inspection.hf(directory, layoutOptions.layout(), layoutOptions.isDefault(), layoutOptions.bridgeOptions(),
        dtypePolicy, AutoBridge.discover());
  }
}
