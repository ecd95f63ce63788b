package dev.megabridge.core.convert;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.tensor.Fp8CodesTensor;
import dev.megabridge.core.tensor.Fp8ScalesTensor;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * HF-named weights streamed out of a Megatron shards folder in size-bounded buckets (RL weight sync): each bucket
 * is written as {@code bucket-NNNNN.safetensors}, all listed in {@code manifest.json}; a tensor larger than the
 * bucket is split along axis 0 and its pieces recorded under {@code split_tensors}.
 */
public final class StreamExport {
  private StreamExport() {}

  /**
   * What a stream export wrote: the schema of the source, the bucket limit, the largest bucket, how many tensors
   * were split (of them FP8 scales: {@code splitScales}), the FP8 block size (null: not quantized) and each bucket.
   */
  public record Summary(String schema, long bucketSize, long largestBucketBytes, int splitTensors, String quantize,
      List<BucketSummary> buckets, @JsonIgnore Path output, @JsonIgnore int splitScales) implements Report {

    public Summary {
      buckets = List.copyOf(buckets);
    }

    @Override
    public String describe() {
      return String.format("stream-export (%s schema) → %s: %d bucket(s), the largest %s (limit %s)%s%s", schema,
          output, buckets.size(), ByteSizes.format(largestBucketBytes), ByteSizes.format(bucketSize),
          quantize == null ? "" : " (blockwise FP8, " + quantize + ")",
          splitTensors == 0 ? "" : "; " + (splitTensors - splitScales) + " tensor(s) larger than the limit split "
              + "along axis 0" + (splitScales == 0 ? "" : ", " + splitScales + " of them FP8 with their scales"));
    }
  }

  /** One bucket file: how many tensors (or pieces) and bytes it holds. */
  public record BucketSummary(String file, int tensors, long bytes) {}

  /**
   * Writes the buckets of {@code source}'s HF tensors (with {@code blocks}, blockwise FP8 as export writes them) of
   * at most {@code limit} bytes into {@code output}. Planned before the output exists: a tensor that cannot be
   * split to fit fails with nothing written.
   */
  public static Summary run(Path source, Path output, long limit, Optional<Fp8Blocks> blocks, boolean overwrite,
      AutoBridge autoBridge, Progress progress) {
    try (MegatronCheckpoint checkpoint = MegatronCheckpoint.open(source, autoBridge)) {
      // The tensors export writes (with blocks, the same FP8 codes and scales); lazy until streamed.
      HfFolderWriter.Prepared prepared = HfFolderWriter.prepare(checkpoint.model(), checkpoint.hfTensors(),
          new HfFolderWriter.Options(Optional.empty(), blocks));
      Map<String, Tensor> tensors = prepared.tensors();
      WeightBuckets plan = new WeightBuckets(tensors, WeightBuckets.packedExpertNames(checkpoint.plan()), limit);
      List<BucketSummary> written = new ArrayList<>();
      ObjectNode split = JsonNodeFactory.instance.objectNode();
      try (OutputDirectory out = OutputDirectory.create(output, overwrite, List.of(source))) {
        progress.start("stream-export", tensors.values().stream().mapToLong(Tensor::byteSize).sum());
        ObjectNode manifest = JsonNodeFactory.instance.objectNode();
        manifest.put("bucket_size", limit);
        manifest.put("largest_bucket_bytes", plan.largestBucketBytes());
        prepared.fp8().ifPresent(config -> config.writeInto(manifest));
        ArrayNode buckets = manifest.putArray("buckets");
        for (WeightBuckets.Bucket bucket : plan) {
          String file = String.format("bucket-%05d.safetensors", bucket.index());
          List<SafetensorsWriter.Entry> entries = bucket.tensors().stream()
              .map(named -> new SafetensorsWriter.Entry(named.name(), named.tensor())).toList();
          SafetensorsWriter.writeFile(out.path().resolve(file), entries, progress::advance);
          ObjectNode node = buckets.addObject();
          node.put("file", file).put("bytes", bucket.bytes());
          ArrayNode names = node.putArray("tensors");
          for (WeightBuckets.NamedTensor named : bucket.tensors()) {
            names.add(named.name());
            named.piece().ifPresent(piece -> addPiece(split, piece, named, file));
          }
          written.add(new BucketSummary(file, bucket.tensors().size(), bucket.bytes()));
        }
        manifest.set("split_tensors", split);
        progress.finish();
        Files.writeString(out.path().resolve("manifest.json"), manifest.toPrettyString() + "\n");
        out.commit();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      int splitScales = 0;
      for (JsonNode entry : split) {
        splitScales += entry.has("scale_of") ? 1 : 0;
      }
      return new Summary(checkpoint.manifest().options().schema().id(), limit, plan.largestBucketBytes(),
          split.size(), blocks.map(Object::toString).orElse(null), written, output, splitScales);
    }
  }

  /**
   * Records a piece under its HF tensor in {@code split_tensors}: the tensor's dtype and full shape, and per
   * piece its key, bucket file and row range of axis 0; the pieces in listed order concatenate to the tensor. A
   * split FP8 weight names its scale tensor ({@code scale_inv}) and the scale tensor its weight
   * ({@code scale_of}): the scale's pieces pair one to one, in order, with the weight's, in the same file.
   */
  private static void addPiece(ObjectNode split, WeightBuckets.Piece piece, WeightBuckets.NamedTensor named,
      String file) {
    ObjectNode entry = (ObjectNode) split.get(piece.tensorName());
    if (entry == null) {
      entry = split.putObject(piece.tensorName());
      entry.put("dtype", named.tensor().dtype().safetensorsName());
      ArrayNode shape = entry.putArray("shape");
      for (long dim : piece.shape().toArray()) {
        shape.add(dim);
      }
      entry.put("axis", 0);
      entry.put("split", piece.perExpert() ? "per_expert" : "rows");
      if (named.tensor() instanceof Fp8CodesTensor) {
        entry.put("scale_inv", Fp8Config.scaleName(piece.tensorName()));
      } else if (named.tensor() instanceof Fp8ScalesTensor) {
        entry.put("scale_of", Fp8Config.weightOfScale(piece.tensorName()));
      }
      entry.putArray("pieces");
    }
    ObjectNode node = ((ArrayNode) entry.get("pieces")).addObject();
    node.put("key", named.name()).put("file", file);
    node.putArray("rows").add(piece.begin()).add(piece.end());
  }
}
