package dev.megabridge.core.convert;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.error.ShapeMismatchException;
import dev.megabridge.core.io.ChecksummedReads;
import dev.megabridge.core.io.Crc32;
import dev.megabridge.core.io.safetensors.SafetensorsFile;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.parallel.ParallelLayout.Rank;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.zip.CRC32;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * An opened Megatron shards folder. Opening checks that every rank file exists and holds exactly the
 * planned tensors (names, dtypes, local shapes); {@link #hfTensors()} then yields the HF tensors as lazy
 * gathers over the memory-mapped rank files, in the source checkpoint's order, without materialising
 * anything.
 *
 * <p>When {@code megabridge.json} records a source identity, opening also checks each rank file's
 * {@code __metadata__} (the rank folder it belongs in and the source it was written from: swapped or foreign rank
 * files are refused), its size and header CRC-32 against the rank's {@link RankChecksums}, and registers every
 * tensor's CRC-32 with a {@link ChecksummedReads}: the bytes an export streams are checked as they are copied, and a
 * tensor read only in part is checked whole before the output is committed. {@link #verifyAll()} reads everything.
 */
public final class MegatronCheckpoint implements AutoCloseable {
  private final Path directory;
  private final ShardsManifest manifest;
  private final ShardPlan plan;
  private final Map<Rank, SafetensorsCheckpoint> files;
  private final ChecksummedReads checks;

  private MegatronCheckpoint(Path directory, ShardsManifest manifest, ShardPlan plan,
      Map<Rank, SafetensorsCheckpoint> files, ChecksummedReads checks) {
    this.directory = directory;
    this.manifest = manifest;
    this.plan = plan;
    this.files = files;
    this.checks = checks;
  }

  /** Ranks whose folder is missing (a partially written multi-node import). */
  public static List<String> missingRanks(Path directory, ShardsManifest manifest) {
    List<String> missing = new ArrayList<>();
    for (ShardsManifest.RankManifest rank : manifest.ranks()) {
      if (!Files.isRegularFile(directory.resolve(rank.directory()).resolve(ShardsManifest.RANK_FILE))) {
        missing.add(rank.directory());
      }
    }
    return missing;
  }

  public static MegatronCheckpoint open(Path directory, AutoBridge autoBridge) {
    ShardsManifest manifest = ShardsManifest.read(directory);
    List<String> missing = missingRanks(directory, manifest);
    if (!missing.isEmpty()) {
      throw new CheckpointFormatException(directory + ": incomplete, " + missing.size() + " of "
          + manifest.ranks().size() + " rank files missing: " + String.join(", ", missing));
    }
    HfConfig config = manifest.config(directory);
    Map<String, HfTensorInfo> hfTensors = manifest.hfTensorMap();
    BridgeModel model = autoBridge.fromConfig(config, Optional.of(new LinkedHashSet<>(hfTensors.keySet())),
        manifest.options());
    ShardPlan plan;
    try {
      plan = ShardPlan.build(model, manifest.layout(), hfTensors);
    } catch (LayoutException e) {
      // The layout was read from the file, not asked for: a layout the model cannot take is bad data there.
      throw new CheckpointFormatException(directory.resolve(ShardsManifest.FILE_NAME) + ": layout: "
          + e.getMessage(), e);
    }
    Map<Rank, SafetensorsCheckpoint> files = new TreeMap<>();
    ChecksummedReads checks = new ChecksummedReads();
    try {
      for (RankPlan rank : plan.ranks()) {
        Path rankDirectory = directory.resolve(rank.directory());
        SafetensorsCheckpoint file = SafetensorsCheckpoint.openFiles(rankDirectory,
            List.of(rankDirectory.resolve(ShardsManifest.RANK_FILE)));
        files.put(rank.rank(), file);
        checkRank(file, rank);
        if (manifest.sourceIdentity().isPresent()) {
          checkIdentity(directory, rank, file, manifest.sourceIdentity().get(), checks);
        }
      }
    } catch (RuntimeException e) {
      checks.close();
      files.values().forEach(SafetensorsCheckpoint::close);
      throw e;
    }
    return new MegatronCheckpoint(directory, manifest, plan, files, checks);
  }

  /**
   * The rank file in {@code rank}'s folder was written for that rank from the source {@code sourceIdentity}; its
   * size and header match its checksums; its tensors' CRCs are registered with {@code checks}.
   */
  private static void checkIdentity(Path directory, RankPlan rank, SafetensorsCheckpoint checkpoint,
      String sourceIdentity, ChecksummedReads checks) {
    Path rankDirectory = directory.resolve(rank.directory());
    Path rankFile = rankDirectory.resolve(ShardsManifest.RANK_FILE);
    Path manifestFile = directory.resolve(ShardsManifest.FILE_NAME);
    SafetensorsFile file = checkpoint.files().getFirst();
    String recordedRank = file.metadata().get(RankChecksums.RANK_KEY);
    if (!rank.directory().equals(recordedRank)) {
      throw new CheckpointFormatException(rankFile + ": is the rank file of " + (recordedRank == null
          ? "no rank (its __metadata__ has no " + RankChecksums.RANK_KEY + ")" : recordedRank) + ", found in the folder of "
          + rank.directory() + " (rank files swapped or copied from another folder)");
    }
    String recordedSource = file.metadata().get(RankChecksums.SOURCE_KEY);
    if (!sourceIdentity.equals(recordedSource)) {
      throw new CheckpointFormatException(rankFile + ": was written from the source " + recordedSource + ", but "
          + manifestFile + " records the source " + sourceIdentity + " (a rank file of another checkpoint)");
    }
    Path checksumFile = rankDirectory.resolve(RankChecksums.FILE_NAME);
    RankChecksums sums = RankChecksums.read(rankDirectory).orElseThrow(() -> new CheckpointFormatException(
        checksumFile + " is missing; " + manifestFile + " records a source identity, so every rank has one"));
    if (!sums.rank().equals(rank.directory()) || !sums.sourceIdentity().equals(sourceIdentity)) {
      throw new CheckpointFormatException(checksumFile + ": is for rank " + sums.rank() + " of the source "
          + sums.sourceIdentity() + ", expected rank " + rank.directory() + " of " + sourceIdentity);
    }
    int headerCrc = headerCrc(rankFile, sums.bytes());
    if (headerCrc != sums.headerCrc32()) {
      throw new CheckpointFormatException(rankFile + ": header CRC-32 mismatch: expected " + Crc32.hex(sums.headerCrc32())
          + " (" + checksumFile.getFileName() + "), computed " + Crc32.hex(headerCrc) + " (the file is corrupted)");
    }
    if (!sums.tensorCrc32().keySet().equals(new HashSet<>(checkpoint.names()))) {
      throw new CheckpointFormatException(checksumFile + ": lists tensors " + sums.tensorCrc32().keySet()
          + ", the rank file holds " + checkpoint.names());
    }
    sums.tensorCrc32().forEach((name, crc) -> checks.register(checkpoint.tensor(name).contiguousSegment(), crc,
        rankFile + ": tensor '" + name + "'"));
  }

  /** The CRC-32 of the 8-byte length and JSON header of {@code rankFile}, which must be {@code bytes} long. */
  private static int headerCrc(Path rankFile, long bytes) {
    try (FileChannel channel = FileChannel.open(rankFile, StandardOpenOption.READ)) {
      if (channel.size() != bytes) {
        throw new CheckpointFormatException(rankFile + ": " + channel.size() + " bytes, its "
            + RankChecksums.FILE_NAME + " records " + bytes);
      }
      ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      channel.read(length, 0);
      // The safetensors reader has checked the length when it opened the file.
      ByteBuffer header = ByteBuffer.allocate(Math.toIntExact(length.getLong(0)));
      while (header.hasRemaining() && channel.read(header, 8 + header.position()) >= 0) {
        // read on
      }
      CRC32 crc = new CRC32();
      crc.update(length.flip());
      crc.update(header.flip());
      return (int) crc.getValue();
    } catch (IOException e) {
      throw new CheckpointFormatException(rankFile + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Whether the folder records checksums (and rank and source identities) to check. */
  public boolean checksumsRecorded() {
    return manifest.sourceIdentity().isPresent();
  }

  /** Reads every tensor of every rank file once and checks its CRC-32; returns the bytes read. */
  public long verifyAll() {
    return checks.verifyAll();
  }

  private static void checkRank(SafetensorsCheckpoint file, RankPlan rank) {
    Set<String> expected = new LinkedHashSet<>();
    List<String> problems = new ArrayList<>();
    for (ShardEntry entry : rank.entries()) {
      expected.add(entry.localName());
      if (!file.contains(entry.localName())) {
        problems.add("missing " + entry.localName());
      } else if (file.dtype(entry.localName()) != entry.dtype() || !file.shape(entry.localName()).equals(entry.shape())) {
        problems.add(entry.localName() + ": expected " + entry.dtype() + entry.shape() + ", got "
            + file.dtype(entry.localName()) + file.shape(entry.localName()));
      }
    }
    for (String name : file.names()) {
      if (!expected.contains(name)) {
        problems.add("unexpected " + name);
      }
    }
    if (!problems.isEmpty()) {
      throw new CheckpointFormatException(file.location(rank.entries().isEmpty() ? "" : rank.entries().getFirst().localName())
          + ": rank " + rank.directory() + " does not match the plan: " + String.join("; ",
          problems.subList(0, Math.min(20, problems.size()))) + (problems.size() > 20 ? "; ..." : ""));
    }
  }

  public Path directory() {
    return directory;
  }

  public ShardsManifest manifest() {
    return manifest;
  }

  public ShardPlan plan() {
    return plan;
  }

  public BridgeModel model() {
    return plan.model();
  }

  /** The local tensor {@code localName} of file rank {@code rank}. */
  public Tensor rankTensor(Rank rank, String localName) {
    return files.get(rank).tensor(localName);
  }

  /**
   * Every HF tensor (source names, dtypes, shapes, expert layout) as a lazy gather of rank shards, in the
   * source's order. Packed experts are stacked from all experts of a layer.
   */
  public LinkedHashMap<String, Tensor> hfTensors() {
    Map<String, Tensor> produced = plan.gatherHf((param, mapping) -> {
      String localName = ShardPlan.localName(plan.layout(), plan.model(), param);
      List<Tensor> shards = new ArrayList<>();
      for (Rank rank : plan.gatherRanks(param, mapping.isExpert())) {
        shards.add(rankTensor(rank, localName));
      }
      return shards;
    });
    LinkedHashMap<String, Tensor> ordered = new LinkedHashMap<>();
    for (HfTensorInfo info : manifest.hfTensors()) {
      Tensor tensor = produced.remove(info.name());
      if (tensor == null) {
        throw new MappingException(directory + ": no Megatron parameter produces " + info.name());
      }
      if (tensor.dtype() != info.dtype() || !tensor.shape().equals(info.shape())) {
        throw new ShapeMismatchException(info.name() + ": rebuilt as " + tensor.dtype() + tensor.shape()
            + ", source had " + info.dtype() + info.shape());
      }
      ordered.put(info.name(), tensor);
    }
    if (!produced.isEmpty()) {
      throw new MappingException(directory + ": produced HF tensors the source did not have: " + produced.keySet());
    }
    return ordered;
  }

  @Override
  public void close() {
    checks.close();
    files.values().forEach(SafetensorsCheckpoint::close);
  }
}
