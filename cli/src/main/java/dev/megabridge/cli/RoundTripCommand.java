package dev.megabridge.cli;

import dev.megabridge.core.convert.HfFolderWriter;
import dev.megabridge.core.convert.RoundTrip;
import dev.megabridge.core.error.BridgeException;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.io.TemporaryFolders;
import dev.megabridge.core.spi.AutoBridge;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Import to a temporary folder, export, compare bit for bit, report ({@link RoundTrip}). */
@Command(name = "roundtrip", mixinStandardHelpOptions = true,
    description = "HF → Megatron (given layout) → HF in temporary folders, then a bit-exact comparison with the source "
        + "(an FP8 source is re-quantized on export; its codes and scales are counted).")
public final class RoundTripCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder.")
  Path source;

  @Option(names = "--work", description = "Folder for the scratch folder (default: $TMPDIR, else java.io.tmpdir).")
  Path work;

  @Mixin
  CommonOptions common;

  @Mixin
  LayoutOptions layout;

  @Mixin
  MixedDtypesOption dtypes;

  @Mixin
  WriteThreadsOption threads;

  @Override
  public Integer call() {
    Output.existingDirectory(source, "HF folder");
    RoundTrip.Summary report = RoundTrip.run(source, work == null ? TemporaryFolders.systemTemp() : work,
        new RoundTrip.Options(layout.layout(), layout.bridgeOptions(), dtypes.policy(), threads.rankFiles(),
            threads.hfFiles()), AutoBridge.discover(), () -> ConsoleProgress.create(common));
    Output.print(common, report);
    if (report.identical()) {
      return 0;
    }
    if (common.json) {
      // One JSON document either way: the report says "identical": false and lists the differences.
      System.err.println("error: round trip of " + source + " is not bit-identical");
      return BridgeException.ExitCode.BAD_INPUT.code();
    }
    throw new MappingException("round trip of " + source + " is not bit-identical: " + report.differences());
  }

  /** A round trip of {@code layout} with mixed dtypes an error and the default numbers of files written at once. */
  static RoundTrip.Summary run(Path source, LayoutOptions layout, CommonOptions common) {
    return RoundTrip.run(source, TemporaryFolders.systemTemp(), new RoundTrip.Options(layout.layout(),
        layout.bridgeOptions(), MixedDtypesOption.policy(false), Runtime.getRuntime().availableProcessors(),
        HfFolderWriter.FILES_AT_ONCE), AutoBridge.discover(), () -> ConsoleProgress.create(common));
  }
}
