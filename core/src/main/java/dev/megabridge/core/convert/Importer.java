package dev.megabridge.core.convert;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.io.TemporaryFolders;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.io.WorkerPool;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * HF safetensors → Megatron shards folder: one {@code mp_rank_*} safetensors file per rank plus
 * {@code megabridge.json}. Rank files are streamed from lazy views of the memory-mapped source, several
 * ranks in parallel, each writer holding one copy buffer — memory stays bounded whatever the size.
 */
public final class Importer {

  /**
   * @param ranks indices into {@link ParallelLayout#ranks()} to write (all when empty)
   */
  public record Options(ParallelLayout layout, BridgeOptions bridgeOptions, Optional<Set<Integer>> ranks,
      boolean overwrite, int threads, HfDtypes.Policy dtypes, DType fp8Target) {

    /** Mixed dtypes in the source are an error ({@link HfDtypes.Policy#strict()}). */
    public Options(ParallelLayout layout, BridgeOptions bridgeOptions, Optional<Set<Integer>> ranks, boolean overwrite,
        int threads) {
      this(layout, bridgeOptions, ranks, overwrite, threads, HfDtypes.Policy.strict());
    }

    /** A blockwise FP8 source is read as bf16. */
    public Options(ParallelLayout layout, BridgeOptions bridgeOptions, Optional<Set<Integer>> ranks, boolean overwrite,
        int threads, HfDtypes.Policy dtypes) {
      this(layout, bridgeOptions, ranks, overwrite, threads, dtypes, DType.BF16);
    }
  }

  /** What an import did. */
  public record Summary(String architecture, String bridge, String layout, int ranksWritten, int ranksTotal,
      int tensorsWritten, long bytesWritten, Path output, String schema) implements Report {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "imported %s (%s, %s schema) → %s: %d of %d ranks, %d tensors, %s", architecture,
          layout, schema, output, ranksWritten, ranksTotal, tensorsWritten, ByteSizes.format(bytesWritten));
    }
  }

  /**
   * What {@code convert --format shards} did: a Megatron checkpoint rewritten as shards of another layout or schema.
   *
   * @param sourceSchema the Megatron schema the source was written in
   */
  public record ConvertSummary(String architecture, String layout, int ranks, int tensors, long bytesWritten,
      Path output, String schema, String sourceSchema) implements Report {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "converted %s (%s schema) → shards (%s, %s schema) %s: %d ranks, %d tensors, %s",
          architecture, sourceSchema, layout, schema, output, ranks, tensors, ByteSizes.format(bytesWritten));
    }
  }

  private Importer() {}

  /** Opens, plans and checks an import without writing anything; mixed dtypes are an error. */
  public static ShardPlan plan(SafetensorsCheckpoint checkpoint, HfConfig config, AutoBridge autoBridge,
      ParallelLayout layout, BridgeOptions options) {
    return plan(checkpoint, checkpoint.fileNames(), checkpoint.directory(), config, autoBridge, layout, options,
        HfDtypes.Policy.strict());
  }

  /**
   * Opens, plans and checks an import without writing anything, the source's dtypes under {@code dtypes}.
   *
   * @param source the HF tensors (a safetensors folder, or its dequantized view when it is FP8)
   * @param files tensor name → the file it is stored in
   */
  public static ShardPlan plan(TensorSource source, Map<String, String> files, Path directory, HfConfig config,
      AutoBridge autoBridge, ParallelLayout layout, BridgeOptions options, HfDtypes.Policy dtypes) {
    Map<String, HfTensorInfo> infos = HfTensorInfo.of(source, files);
    BridgeModel model = autoBridge.fromConfig(config, Optional.of(new LinkedHashSet<>(infos.keySet())), options);
    HfDtypes.check(model, infos.values(), directory, dtypes);
    return ShardPlan.build(model, layout, infos);
  }

  /** HF folder (plain, or blockwise FP8 read as {@link Options#fp8Target()}) → shards folder. */
  public static Summary run(Path hfDirectory, Path output, Options options, AutoBridge autoBridge, Progress progress) {
    try (CheckpointSource source = CheckpointSource.openHf(hfDirectory, autoBridge, options.dtypes(),
        options.fp8Target())) {
      return write(source, output, options, autoBridge, progress);
    }
  }

  /**
   * The HF tensors of any source (an HF folder, or a torch_dist checkpoint for {@code convert --format shards}) →
   * shards folder: all ranks into a new folder, or with {@link Options#ranks()} the selected ranks into a shared one.
   */
  public static Summary write(CheckpointSource source, Path output, Options options, AutoBridge autoBridge,
      Progress progress) {
    BridgeModel model = autoBridge.fromConfig(source.config(), Optional.of(new LinkedHashSet<>(source.infoMap()
        .keySet())), options.bridgeOptions());
    ShardPlan plan = ShardPlan.build(model, options.layout(), source.infoMap());
    List<RankPlan> selected = select(plan, options.ranks());
    ShardsManifest manifest = manifest(plan, source.config(), source.smallFiles(),
        SourceIdentity.of(source.tensors(), plan.hfTensors().values()));
    long bytes = selected.stream().mapToLong(RankPlan::byteSize).sum();
    progress.start("import", bytes);
    try {
      if (options.ranks().isEmpty()) {
        try (OutputDirectory out = OutputDirectory.create(output, options.overwrite(), source.inputs())) {
          writeFolderFiles(out.path(), source, manifest);
          writeRanks(source.tensors(), selected, out.path(), manifest.sourceIdentity().orElseThrow(),
              options.threads(), progress);
          out.commit();
        }
      } else {
        writeShared(source, output, manifest, selected, options, progress);
      }
    } finally {
      progress.finish();
    }
    int tensors = selected.stream().mapToInt(rank -> rank.entries().size()).sum();
    return new Summary(plan.model().architecture(), plan.model().bridge().name(), plan.layout().describe(),
        selected.size(), plan.ranks().size(), tensors, bytes, output.toAbsolutePath().normalize(),
        plan.model().options().schema().id());
  }

  /** A Megatron checkpoint (torch_dist or shards) → shards folder of {@code options}' layout and schema. */
  public static ConvertSummary convert(CheckpointSource source, Path output, Options options, AutoBridge autoBridge,
      Progress progress) {
    Summary summary = write(source, output, options, autoBridge, progress);
    return new ConvertSummary(summary.architecture(), summary.layout(), summary.ranksTotal(), summary.tensorsWritten(),
        summary.bytesWritten(), summary.output(), summary.schema(), source.schema().map(Schema::id).orElse("hf"));
  }

  private static List<RankPlan> select(ShardPlan plan, Optional<Set<Integer>> ranks) {
    if (ranks.isEmpty()) {
      return plan.ranks();
    }
    List<RankPlan> out = new ArrayList<>();
    for (int index : ranks.get()) {
      if (index < 0 || index >= plan.ranks().size()) {
        throw new UsageException("--ranks: rank " + index + " is outside 0.." + (plan.ranks().size() - 1)
            + " for layout " + plan.layout().describe());
      }
      out.add(plan.ranks().get(index));
    }
    return out;
  }

  /** The {@code megabridge.json} of a shards folder written from {@code plan} of the source {@code sourceIdentity}. */
  public static ShardsManifest manifest(ShardPlan plan, HfConfig config, List<String> smallFiles,
      String sourceIdentity) {
    List<ShardsManifest.RankManifest> ranks = new ArrayList<>();
    for (RankPlan rank : plan.ranks()) {
      List<ShardsManifest.LocalTensor> tensors = rank.entries().stream()
          .map(entry -> new ShardsManifest.LocalTensor(entry.localName(), entry.dtype(), entry.shape())).toList();
      ranks.add(new ShardsManifest.RankManifest(rank.directory(), rank.rank().tp(), rank.rank().pp(), rank.rank().ep(),
          tensors));
    }
    ObjectNode provider = HfConfig.JSON.valueToTree(plan.model().provider());
    return new ShardsManifest(ShardsManifest.FORMAT_VERSION, plan.model().architecture(), plan.model().bridge().name(),
        plan.layout(), plan.model().options(), config.raw(), smallFiles, List.copyOf(plan.hfTensors().values()),
        provider, ranks, Optional.of(sourceIdentity));
  }

  private static void writeFolderFiles(Path folder, CheckpointSource source, ShardsManifest manifest) {
    HfFiles.copy(source.smallFilesDirectory(), folder.resolve(ShardsManifest.HF_FILES_DIR), source.smallFiles());
    try {
      Files.writeString(folder.resolve(ShardsManifest.FILE_NAME), manifest.toJson(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Prefix of the staging folder of a shared folder's manifest; those of killed runs are removed by the next. */
  static final String SHARED_STAGING_PREFIX = ".megabridge-";

  /**
   * Multi-node mode: the output folder is shared; each rank folder is written beside its final place and
   * renamed when complete, and {@code megabridge.json} is written once (identical content required).
   */
  private static void writeShared(CheckpointSource source, Path output, ShardsManifest manifest,
      List<RankPlan> selected, Options options, Progress progress) {
    OutputDirectory.requireApart(output.toAbsolutePath().normalize(), source.inputs());
    try {
      Files.createDirectories(output);
      Path manifestFile = output.resolve(ShardsManifest.FILE_NAME);
      if (!Files.exists(manifestFile)) {
        TemporaryFolders.Registration stagingFolder = TemporaryFolders.scratch(output, SHARED_STAGING_PREFIX,
            "the staging folder of " + manifestFile);
        Path staging = stagingFolder.folder();
        try {
          writeFolderFiles(staging, source, manifest);
          Path hf = output.resolve(ShardsManifest.HF_FILES_DIR);
          if (!Files.exists(hf)) {
            Files.move(staging.resolve(ShardsManifest.HF_FILES_DIR), hf, StandardCopyOption.ATOMIC_MOVE);
          }
          publishManifest(staging.resolve(ShardsManifest.FILE_NAME), manifestFile);
        } catch (FileAlreadyExistsException raced) {
          // Another node won the race: its manifest is checked below like any existing one.
        } finally {
          stagingFolder.delete();
        }
      }
      checkSameConversion(output, source.location(), manifest);
      for (RankPlan rank : selected) {
        Path target = output.resolve(rank.directory());
        if (Files.exists(target) && !options.overwrite()) {
          throw new UsageException(target + " already exists (pass --overwrite to replace it)");
        }
      }
      List<RankPlan> pending = new ArrayList<>(selected);
      writeRanksInto(source, pending, output, manifest.sourceIdentity().orElseThrow(), options, progress);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Puts {@code staged} in place as {@code manifestFile} unless one exists ({@link FileAlreadyExistsException}): a
   * hard link, unlike a rename, never replaces a manifest another node published meanwhile; where links are not
   * supported, a move that refuses an existing target.
   */
  private static void publishManifest(Path staged, Path manifestFile) throws IOException {
    try {
      Files.createLink(manifestFile, staged);
    } catch (FileAlreadyExistsException exists) {
      throw exists;
    } catch (IOException | UnsupportedOperationException noLinks) {
      Files.move(staged, manifestFile);
    }
  }

  /**
   * The manifest in {@code output} is the one {@code manifest} would write: the same source (else a
   * {@link UsageException} naming both source identities) and the same layout and options.
   */
  private static void checkSameConversion(Path output, Path sourceLocation, ShardsManifest manifest)
      throws IOException {
    Path manifestFile = output.resolve(ShardsManifest.FILE_NAME);
    Optional<String> existing = ShardsManifest.read(output).sourceIdentity();
    if (!existing.equals(manifest.sourceIdentity())) {
      throw new UsageException(manifestFile + " holds ranks of the source " + existing.orElse(
          "(none recorded: written by an earlier megabridge)") + ", but " + sourceLocation + " is the source "
          + manifest.sourceIdentity().orElseThrow() + ": ranks of two checkpoints cannot be mixed in one folder");
    }
    if (!Files.readString(manifestFile).equals(manifest.toJson())) {
      throw new UsageException(manifestFile + " describes a different conversion (other source or layout)");
    }
  }

  private static void writeRanksInto(CheckpointSource source, List<RankPlan> ranks, Path output,
      String sourceIdentity, Options options, Progress progress) {
    WorkerPool.forEach(ranks, options.threads(), rank -> {
      try (OutputDirectory out = OutputDirectory.create(output.resolve(rank.directory()), options.overwrite(),
          source.inputs())) {
        writeRank(source.tensors(), rank, out.path(), sourceIdentity, progress);
        out.commit();
      }
    });
  }

  private static void writeRanks(TensorSource checkpoint, List<RankPlan> ranks, Path folder,
      String sourceIdentity, int threads, Progress progress) {
    WorkerPool.forEach(ranks, threads, rank -> {
      Path directory = folder.resolve(rank.directory());
      try {
        Files.createDirectories(directory);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      writeRank(checkpoint, rank, directory, sourceIdentity, progress);
    });
  }

  /**
   * Streams one rank's tensors, cut from the HF tensors of {@code checkpoint}, into {@code directory/model.safetensors}
   * (its {@code __metadata__} naming the rank and the source), then writes the rank's {@link RankChecksums}, whose
   * CRCs were taken from the written blocks.
   */
  public static void writeRank(TensorSource checkpoint, RankPlan rank, Path directory,
      String sourceIdentity, Progress progress) {
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    for (ShardEntry entry : rank.entries()) {
      Tensor shard = entry.cut(checkpoint);
      entries.add(new SafetensorsWriter.Entry(entry.localName(), shard));
    }
    SafetensorsWriter.FileChecksums written = SafetensorsWriter.writeFileWithChecksums(
        directory.resolve(ShardsManifest.RANK_FILE), entries, RankChecksums.fileMetadata(rank.directory(),
            sourceIdentity), progress::advance);
    RankChecksums.of(rank.directory(), sourceIdentity, written).write(directory);
  }
}
