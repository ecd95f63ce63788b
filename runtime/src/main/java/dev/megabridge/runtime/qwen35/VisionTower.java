package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.qwen35.Qwen35Config.VisionConfig;
import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.FloatMatrix;
import dev.megabridge.runtime.ops.Functions;
import dev.megabridge.runtime.ops.KernelOps;
import dev.megabridge.runtime.ops.Linear;
import dev.megabridge.runtime.ops.WeightMatrix;
import java.util.ArrayList;
import java.util.List;

/**
 * The vision encoder (docs/model.md §4): Conv3d patch embedding as a linear map over flattened patches, bilinear
 * (align-corners) resampling of the learned position table, pre-LN blocks with 2-D rotary bidirectional
 * attention per frame and GELU-tanh MLP, and the 2×2 patch merger (LayerNorm, concat, fc1, exact GELU, fc2).
 */
final class VisionTower {

  /** A linear layer with bias. */
  private record Affine(Linear linear, float[] bias) {

    static Affine load(ModelWeights weights, String prefix) {
      Linear linear = weights.linear(prefix + ".weight");
      float[] bias = weights.floats(prefix + ".bias");
      Shapes.check(bias, linear.outFeatures(), prefix + ".bias");
      return new Affine(linear, bias);
    }

    float[] apply(Compute compute, float[] x, int rows) {
      int width = linear.outFeatures();
      float[] out = new float[rows * width];
      linear.apply(compute, x, rows, out);
      for (int row = 0; row < rows; row++) {
        for (int j = 0; j < width; j++) {
          out[row * width + j] += bias[j];
        }
      }
      return out;
    }
  }

  private record Norm(float[] weight, float[] bias) {
    static Norm load(ModelWeights weights, String prefix) {
      return new Norm(weights.floats(prefix + ".weight"), weights.floats(prefix + ".bias"));
    }

    float[] apply(float[] x, int rows) {
      float[] out = new float[x.length];
      Functions.layerNorm(x, rows, weight.length, weight, bias, 1e-6f, out);
      return out;
    }
  }

  private record Block(Norm norm1, Affine qkv, Affine projection, Norm norm2, Affine fc1, Affine fc2) {}

  private final VisionConfig config;
  private final Affine patchEmbed;
  private final WeightMatrix positionTable;
  private final int gridSide;
  private final List<Block> blocks;
  private final Norm mergerNorm;
  private final Affine mergerFc1;
  private final Affine mergerFc2;
  private final float[] inverseFrequencies;

  VisionTower(ModelWeights weights, String prefix, VisionConfig config) {
    this.config = config;
    this.patchEmbed = Affine.load(weights, prefix + "patch_embed.proj");
    int patchDim = config.inChannels() * config.temporalPatchSize() * config.patchSize() * config.patchSize();
    Shapes.check(patchEmbed.linear(), config.hiddenSize(), patchDim, prefix + "patch_embed.proj");
    this.positionTable = WeightMatrix.of(weights.require(prefix + "pos_embed.weight"));
    this.gridSide = (int) Math.round(Math.sqrt(config.numPositionEmbeddings()));
    List<Block> loaded = new ArrayList<>();
    for (int block = 0; block < config.depth(); block++) {
      String blockPrefix = prefix + "blocks." + block + ".";
      loaded.add(new Block(Norm.load(weights, blockPrefix + "norm1"), Affine.load(weights, blockPrefix + "attn.qkv"),
          Affine.load(weights, blockPrefix + "attn.proj"), Norm.load(weights, blockPrefix + "norm2"),
          Affine.load(weights, blockPrefix + "mlp.linear_fc1"), Affine.load(weights, blockPrefix + "mlp.linear_fc2")));
      Shapes.check(loaded.getLast().qkv().linear(), 3 * config.hiddenSize(), config.hiddenSize(), blockPrefix + "qkv");
    }
    this.blocks = List.copyOf(loaded);
    this.mergerNorm = Norm.load(weights, prefix + "merger.norm");
    this.mergerFc1 = Affine.load(weights, prefix + "merger.linear_fc1");
    this.mergerFc2 = Affine.load(weights, prefix + "merger.linear_fc2");
    Shapes.check(mergerFc2.linear(), config.outHiddenSize(), config.mergedHiddenSize(), prefix + "merger.linear_fc2");
    // Rotary over half the head dim: inv[j] = 1 / 10000^(2j / (d/2)), j < d/4 (docs/model.md §4.3), fp32.
    int rotaryDim = config.headDim() / 2;
    this.inverseFrequencies = new float[rotaryDim / 2];
    for (int j = 0; j < inverseFrequencies.length; j++) {
      inverseFrequencies[j] = 1f / (float) Math.pow(10000.0, (float) (2 * j) / rotaryDim);
    }
  }

  long weightBytes() {
    long total = patchEmbed.linear().weightBytes() + mergerFc1.linear().weightBytes()
        + mergerFc2.linear().weightBytes();
    for (Block block : blocks) {
      total += block.qkv().linear().weightBytes() + block.projection().linear().weightBytes()
          + block.fc1().linear().weightBytes() + block.fc2().linear().weightBytes();
    }
    return total;
  }

  /** Image token embeddings {@code [Σ patches/merge², outHidden]} for {@code image}, images in order. */
  FloatMatrix forward(Compute compute, ImageInput image, ForwardTrace trace) {
    int patches = image.patches();
    int width = config.hiddenSize();
    if (image.patchDim() != patchEmbed.linear().inFeatures()) {
      throw new UsageException("pixel rows have " + image.patchDim() + " values, the patch embedding expects "
          + patchEmbed.linear().inFeatures());
    }
    int[] rows = new int[patches];
    int[] columns = new int[patches];
    int[] segmentStarts = patchCoordinates(image.grids(), rows, columns);
    float[] hidden = patchEmbed.apply(compute, image.pixelValues(), patches);
    trace.snapshot("V.patch_embed", hidden, patches, width);
    addPositionEmbeddings(hidden, image.grids());

    float[] cos = new float[patches * (config.headDim() / 2)];
    float[] sin = new float[cos.length];
    int half = config.headDim() / 2;
    int quarter = inverseFrequencies.length;
    for (int patch = 0; patch < patches; patch++) {
      for (int j = 0; j < quarter; j++) {
        float rowAngle = rows[patch] * inverseFrequencies[j];
        float columnAngle = columns[patch] * inverseFrequencies[j];
        cos[patch * half + j] = (float) Math.cos(rowAngle);
        sin[patch * half + j] = (float) Math.sin(rowAngle);
        cos[patch * half + quarter + j] = (float) Math.cos(columnAngle);
        sin[patch * half + quarter + j] = (float) Math.sin(columnAngle);
      }
    }
    for (int index = 0; index < blocks.size(); index++) {
      Block block = blocks.get(index);
      trace.snapshot("V.block" + index + ".input", hidden, patches, width);
      float[] attention = attention(compute, block, block.norm1().apply(hidden, patches), patches, segmentStarts, cos,
          sin);
      Functions.addInPlace(hidden, attention);
      float[] inner = block.fc1().apply(compute, block.norm2().apply(hidden, patches), patches);
      for (int i = 0; i < inner.length; i++) {
        inner[i] = Functions.geluTanh(inner[i]);
      }
      Functions.addInPlace(hidden, block.fc2().apply(compute, inner, patches));
      trace.snapshot("V.block" + index + ".output", hidden, patches, width);
    }
    // Merger: LayerNorm per patch, then 4 consecutive patches (one 2x2 block) form one row.
    int merge = config.spatialMergeSize() * config.spatialMergeSize();
    int tokens = patches / merge;
    float[] merged = mergerFc1.apply(compute, mergerNorm.apply(hidden, patches), tokens);
    for (int i = 0; i < merged.length; i++) {
      merged[i] = Functions.geluErf(merged[i]);
    }
    float[] out = mergerFc2.apply(compute, merged, tokens);
    trace.snapshot("V.merger", out, tokens, config.outHiddenSize());
    return new FloatMatrix(out, tokens, config.outHiddenSize());
  }

  /**
   * Row/column of every patch in merge-block order (docs/model.md §5.4: block row, block column, in-row, in-column) and
   * the first patch of each frame (attention segments), with a final entry = total patches.
   */
  private int[] patchCoordinates(List<GridThw> grids, int[] rows, int[] columns) {
    int merge = config.spatialMergeSize();
    List<Integer> starts = new ArrayList<>();
    int patch = 0;
    for (GridThw grid : grids) {
      if (grid.height() % merge != 0 || grid.width() % merge != 0) {
        throw new UsageException("image grid " + grid + " is not a multiple of the merge size " + merge);
      }
      for (int frame = 0; frame < grid.frames(); frame++) {
        starts.add(patch);
        for (int blockRow = 0; blockRow < grid.height() / merge; blockRow++) {
          for (int blockColumn = 0; blockColumn < grid.width() / merge; blockColumn++) {
            for (int inRow = 0; inRow < merge; inRow++) {
              for (int inColumn = 0; inColumn < merge; inColumn++) {
                rows[patch] = blockRow * merge + inRow;
                columns[patch] = blockColumn * merge + inColumn;
                patch++;
              }
            }
          }
        }
      }
    }
    starts.add(patch);
    return starts.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * Adds the bilinearly resampled position table (docs/model.md §4.2), reproducing transformers' fp32 arithmetic:
   * {@code linspace(0, S−1, n)} per axis, floor/ceil indices and the four weighted rows summed in order.
   */
  private void addPositionEmbeddings(float[] hidden, List<GridThw> grids) {
    int width = config.hiddenSize();
    int merge = config.spatialMergeSize();
    float[][] table = new float[4][width];
    int patch = 0;
    for (GridThw grid : grids) {
      float[] rowSources = linspace(gridSide - 1, grid.height());
      float[] columnSources = linspace(gridSide - 1, grid.width());
      for (int frame = 0; frame < grid.frames(); frame++) {
        for (int blockRow = 0; blockRow < grid.height() / merge; blockRow++) {
          for (int blockColumn = 0; blockColumn < grid.width() / merge; blockColumn++) {
            for (int inRow = 0; inRow < merge; inRow++) {
              for (int inColumn = 0; inColumn < merge; inColumn++) {
                float rowSource = rowSources[blockRow * merge + inRow];
                float columnSource = columnSources[blockColumn * merge + inColumn];
                int row0 = (int) rowSource;
                int column0 = (int) columnSource;
                int row1 = Math.min(row0 + 1, gridSide - 1);
                int column1 = Math.min(column0 + 1, gridSide - 1);
                float rowFraction = rowSource - row0;
                float columnFraction = columnSource - column0;
                float w00 = (1 - rowFraction) * (1 - columnFraction);
                float w01 = (1 - rowFraction) * columnFraction;
                float w10 = rowFraction * (1 - columnFraction);
                float w11 = rowFraction * columnFraction;
                positionTable.copyRow(row0 * gridSide + column0, table[0], 0);
                positionTable.copyRow(row0 * gridSide + column1, table[1], 0);
                positionTable.copyRow(row1 * gridSide + column0, table[2], 0);
                positionTable.copyRow(row1 * gridSide + column1, table[3], 0);
                int offset = patch * width;
                for (int j = 0; j < width; j++) {
                  float position = table[0][j] * w00 + table[1][j] * w01 + table[2][j] * w10 + table[3][j] * w11;
                  hidden[offset + j] += position;
                }
                patch++;
              }
            }
          }
        }
      }
    }
  }

  /** torch.linspace(0, end, steps) in fp32: start + step·i in the first half, end − step·(steps−1−i) after. */
  static float[] linspace(float end, int steps) {
    float[] values = new float[steps];
    if (steps == 1) {
      values[0] = 0f;
      return values;
    }
    float step = end / (float) (steps - 1);
    int halfway = steps / 2;
    for (int i = 0; i < steps; i++) {
      values[i] = i < halfway ? step * i : end - step * (steps - 1 - i);
    }
    return values;
  }

  /** Bidirectional multi-head attention within each frame segment, with the 2-D rotary on q and k. */
  private float[] attention(Compute compute, Block block, float[] normed, int patches, int[] segmentStarts,
      float[] cos, float[] sin) {
    int width = config.hiddenSize();
    int heads = config.numHeads();
    int headDim = config.headDim();
    int half = headDim / 2;
    float[] qkv = block.qkv().apply(compute, normed, patches);
    // Rotate q (offset 0) and k (offset width) of every head: pairs (i, i + d/2), cos/sin of ψ = concat(φ, φ).
    for (int patch = 0; patch < patches; patch++) {
      for (int part = 0; part < 2; part++) {
        for (int head = 0; head < heads; head++) {
          int offset = patch * 3 * width + part * width + head * headDim;
          for (int i = 0; i < half; i++) {
            float c = cos[patch * half + i];
            float s = sin[patch * half + i];
            float first = qkv[offset + i];
            float second = qkv[offset + i + half];
            qkv[offset + i] = first * c - second * s;
            qkv[offset + i + half] = second * c + first * s;
          }
        }
      }
    }
    float scaling = (float) Math.pow(headDim, -0.5);
    float[] attended = new float[patches * width];
    int[] segmentOf = new int[patches];
    for (int segment = 0; segment + 1 < segmentStarts.length; segment++) {
      for (int patch = segmentStarts[segment]; patch < segmentStarts[segment + 1]; patch++) {
        segmentOf[patch] = segment;
      }
    }
    KernelOps ops = compute.ops();
    compute.parallel().forRange(patches * heads, 1, (from, to) -> {
      float[] scores = new float[patches];
      for (int index = from; index < to; index++) {
        int patch = index / heads;
        int head = index % heads;
        int first = segmentStarts[segmentOf[patch]];
        int end = segmentStarts[segmentOf[patch] + 1];
        int queryOffset = patch * 3 * width + head * headDim;
        for (int key = first; key < end; key++) {
          scores[key - first] = ops.dot(qkv, queryOffset, qkv, key * 3 * width + width + head * headDim, headDim)
              * scaling;
        }
        Functions.softmax(scores, 0, end - first);
        int outOffset = patch * width + head * headDim;
        for (int key = first; key < end; key++) {
          ops.axpy(scores[key - first], qkv, key * 3 * width + 2 * width + head * headDim, attended, outOffset,
              headDim);
        }
      }
    });
    return block.projection().apply(compute, attended, patches);
  }
}
