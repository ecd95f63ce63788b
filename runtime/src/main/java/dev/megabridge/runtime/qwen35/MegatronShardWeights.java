package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.MegatronCheckpoint;
import dev.megabridge.core.convert.ShardPlan;
import dev.megabridge.core.convert.ShardsManifest;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.MappingException;
import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.mapping.ReplicatedMapping;
import dev.megabridge.core.parallel.ParallelLayout.Rank;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.runtime.ops.Linear;
import dev.megabridge.runtime.ops.WeightMatrix;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link ModelWeights} over a megabridge Megatron shards folder, computed tensor-parallel as Megatron would: every
 * linear layer is built from each rank's own shard (a zero-copy view of the memory-mapped rank file); docs/model.md §9
 * describes the evaluation. Column-parallel layers (docs/mappings.md §2) concatenate the rank outputs, each local row
 * scattered to the HF output feature it computes; row-parallel layers (docs/mappings.md §2) give each rank its
 * input-column range and add the rank partial sums in rank order; replicated weights (docs/mappings.md §2) come from
 * rank 0. Which HF row or column a local row or column holds is read off the parameter's own mapping
 * ({@link MappingProbe}). Experts come from the EP rank that holds them ({@link ShardPlan#gatherRanks}).
 *
 * <p>slime's native schema (docs/mappings.md §5) replicates the Gated DeltaNet and the vision tower on every
 * TP rank, each running them whole: their layers are replicated weights, so the runtime computes them once from
 * rank 0's full copy, as any one rank would. Its embedding and output layer carry zero rows beyond the HF
 * vocabulary (docs/mappings.md §5); the probe marks them ({@link MappingProbe.Source#PADDING}) and no column-parallel
 * shard computes them, so the logits have exactly the config's {@code vocab_size} columns.
 *
 * <p>Everything else (norms, biases, conv1d, A_log, dt_bias, position embeddings) is read as the HF tensor the
 * shards rebuild ({@link MegatronCheckpoint#hfTensors()}, lazy gathers): this undoes Megatron's conventions such as
 * the zero-centred GDN {@code out_norm} (Megatron stores {@code γ − 1}, docs/mappings.md §2), so those weights are used
 * as HF defines them.
 */
public final class MegatronShardWeights implements ModelWeights, AutoCloseable {

  /** The Megatron parameter holding an HF tensor, and the tensor's role in its mapping. */
  private record Owner(MegatronParam param, ParamMapping mapping, String role) {}

  private final MegatronCheckpoint checkpoint;
  private final ShardPlan plan;
  private final Map<String, Tensor> hfTensors;
  private final Map<String, Owner> owners = new HashMap<>();
  private final Map<String, Map<Integer, Owner>> packedOwners = new HashMap<>();
  private final Qwen35Config qwenConfig;
  private final RowKinds rowKinds;

  private MegatronShardWeights(MegatronCheckpoint checkpoint) {
    this.checkpoint = checkpoint;
    this.plan = checkpoint.plan();
    this.hfTensors = checkpoint.hfTensors();
    this.qwenConfig = Qwen35Config.parse(config(), architecture());
    this.rowKinds = RowKinds.of(qwenConfig);
    for (Map.Entry<MegatronParam, ParamMapping> owned : plan.ownedParams().entrySet()) {
      ParamMapping mapping = owned.getValue();
      mapping.hfParams().forEach((role, hfName) -> {
        Owner owner = new Owner(owned.getKey(), mapping, role);
        if (mapping.isGroupedExport()) {
          packedOwners.computeIfAbsent(hfName, name -> new HashMap<>()).put(owned.getKey().expert(), owner);
        } else {
          owners.put(hfName, owner);
        }
      });
    }
  }

  /** Opens the shards folder {@code directory} (checks every rank file against the plan and its checksums). */
  public static MegatronShardWeights open(Path directory) {
    MegatronCheckpoint checkpoint = MegatronCheckpoint.open(directory, AutoBridge.discover());
    try {
      // The forward pass computes on the mapped bytes in place (no stream to check them in): verify them once here.
      checkpoint.verifyAll();
      return new MegatronShardWeights(checkpoint);
    } catch (RuntimeException e) {
      checkpoint.close();
      throw e;
    }
  }

  /** The source checkpoint's {@code config.json}, as recorded in {@code megabridge.json}. */
  public HfConfig config() {
    return checkpoint.manifest().config(checkpoint.directory());
  }

  /** The parsed config of the model the shards hold. */
  public Qwen35Config qwenConfig() {
    return qwenConfig;
  }

  /** The folder's manifest: layout, naming options and schema, the source's tensor list. */
  public ShardsManifest manifest() {
    return checkpoint.manifest();
  }

  /** The architecture the shards were imported as. */
  public String architecture() {
    return checkpoint.manifest().architecture();
  }

  /** The parallel layout of the shards (e.g. {@code tp2 pp2 ep2}). */
  public String layout() {
    return plan.layout().describe();
  }

  private String resolve(String name) {
    return CheckpointWeights.resolve(name, hfTensors::containsKey);
  }

  @Override
  public RowKinds rowKinds() {
    return rowKinds;
  }

  @Override
  public boolean contains(String name) {
    return resolve(name) != null;
  }

  @Override
  public Tensor tensor(String name) {
    String resolved = resolve(name);
    if (resolved == null) {
      throw new CheckpointFormatException(checkpoint.directory() + ": the shards hold no tensor " + name);
    }
    return hfTensors.get(resolved);
  }

  @Override
  public Linear linear(String name) {
    String resolved = resolve(name);
    Owner owner = resolved == null ? null : owners.get(resolved);
    if (owner == null) {
      throw new CheckpointFormatException(checkpoint.directory() + ": no Megatron parameter holds " + name);
    }
    return build(resolved, owner);
  }

  @Override
  public Linear packedExpert(String name, int expert) {
    String resolved = resolve(name);
    Owner owner = resolved == null ? null : packedOwners.getOrDefault(resolved, Map.of()).get(expert);
    if (owner == null) {
      throw new CheckpointFormatException(checkpoint.directory() + ": no Megatron parameter holds expert " + expert
          + " of " + name);
    }
    return build(resolved, owner);
  }

  /**
   * The layer of HF weight {@code name} from the shards of the split ranks (TP, or ETP for experts) holding it.
   * Row-kind layers ({@link RowKinds}) are always {@link Linear.RowParallel}, even unsplit, so they
   * reduce in the same canonical order as the single-rank forward; a weight the mapping splits by input column
   * must be row-kind and a row-kind weight must be split that way (checked here, so the name set and the mappings
   * cannot drift apart unnoticed).
   */
  private Linear build(String name, Owner owner) {
    ParamMapping mapping = owner.mapping();
    String localName = ShardPlan.localName(plan.layout(), plan.model(), owner.param());
    List<Rank> ranks = plan.gatherRanks(owner.param(), mapping.isExpert());
    List<Tensor> shards = new ArrayList<>(ranks.size());
    for (Rank rank : ranks) {
      shards.add(checkpoint.rankTensor(rank, localName));
    }
    boolean rowKind = rowKinds.contains(name);
    if (mapping instanceof ReplicatedMapping) {
      return singleRank(name, WeightMatrix.of(shards.getFirst()));
    }
    Map<String, Shape> hfShapes = new LinkedHashMap<>();
    mapping.hfParams().forEach((role, hfName) -> hfShapes.put(role, plan.hfTensors().get(hfName).shape()));
    Shape hfShape = hfShapes.get(owner.role());
    Shape localShape = shards.getFirst().shape();
    int splitSize = shards.size();
    boolean rowSplit = localShape.dim(localShape.rank() - 1) != hfShape.dim(hfShape.rank() - 1);
    if (splitSize > 1 && rowSplit != rowKind) {
      throw new MappingException(owner.param().name() + ": " + name + " is " + (rowSplit ? "" : "not ")
          + "split by input column, but Megatron-Bridge's table says otherwise (RowKinds)");
    }
    if (rowKind) {
      return rowParallel(owner, shards, hfShapes, splitSize);
    }
    return columnParallel(owner, shards, hfShapes, splitSize, Math.toIntExact(hfShape.dim(hfShape.rank() - 2)));
  }

  /** Input features split: each rank's columns must be one contiguous HF column range of the role. */
  private static Linear rowParallel(Owner owner, List<Tensor> shards, Map<String, Shape> hfShapes, int splitSize) {
    List<Linear.RowShard> rowShards = new ArrayList<>(splitSize);
    for (int splitRank = 0; splitRank < splitSize; splitRank++) {
      List<MappingProbe.Source> columns = MappingProbe.columns(owner.mapping(), hfShapes, splitSize, splitRank);
      int start = columns.getFirst().index();
      for (int column = 0; column < columns.size(); column++) {
        MappingProbe.Source source = columns.get(column);
        if (!source.role().equals(owner.role()) || source.index() != start + column) {
          throw new MappingException(owner.param().name() + ": split rank " + splitRank
              + " does not hold one contiguous input range of " + owner.mapping().hfParams().get(owner.role()));
        }
      }
      rowShards.add(new Linear.RowShard(WeightMatrix.of(shards.get(splitRank)), start));
    }
    return new Linear.RowParallel(rowShards);
  }

  /**
   * Output features split: each rank's local rows of this role, in runs of consecutive local rows (each a
   * zero-copy row range of the rank's shard), scattered to the HF output rows they compute. Rows of other roles
   * and vocabulary pad rows are left out.
   */
  private static Linear columnParallel(Owner owner, List<Tensor> shards, Map<String, Shape> hfShapes, int splitSize,
      int outFeatures) {
    List<Linear.ColumnShard> columnShards = new ArrayList<>();
    for (int splitRank = 0; splitRank < splitSize; splitRank++) {
      WeightMatrix weight = WeightMatrix.of(shards.get(splitRank));
      List<MappingProbe.Source> rows = MappingProbe.rows(owner.mapping(), hfShapes, splitSize, splitRank);
      if (rows.size() != weight.rows()) {
        throw new MappingException(owner.param().name() + ": probe gives " + rows.size() + " rows for a shard of "
            + weight.rows());
      }
      int row = 0;
      while (row < rows.size()) {
        if (!rows.get(row).role().equals(owner.role())) {
          row++;
          continue;
        }
        int start = row;
        while (row < rows.size() && rows.get(row).role().equals(owner.role())) {
          row++;
        }
        int[] outputRows = new int[row - start];
        for (int local = start; local < row; local++) {
          outputRows[local - start] = rows.get(local).index();
        }
        columnShards.add(new Linear.ColumnShard(weight.rowRange(start, row - start), outputRows));
      }
    }
    return new Linear.ColumnParallel(columnShards, outFeatures);
  }

  @Override
  public void close() {
    checkpoint.close();
  }
}
