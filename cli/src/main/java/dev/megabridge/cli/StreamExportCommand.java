package dev.megabridge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.convert.HfFolderWriter;
import dev.megabridge.core.convert.MegatronCheckpoint;
import dev.megabridge.core.convert.WeightBuckets;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.quant.Fp8Blocks;
import dev.megabridge.core.quant.Fp8Config;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.tensor.Fp8CodesTensor;
import dev.megabridge.core.tensor.Fp8ScalesTensor;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Streams HF-named weights out of a Megatron folder in size-bounded buckets (RL weight sync). */
@Command(name = "stream-export", mixinStandardHelpOptions = true,
    description = "Yield (HF name, tensor) pairs in buckets of at most --bucket-size, gathering TP/EP shards on the "
        + "fly; each bucket is written as bucket-NNNNN.safetensors, listed in manifest.json. A tensor larger than "
        + "the bucket is split along axis 0 (packed experts: one piece per expert) into pieces NAME[begin:end], "
        + "recorded under split_tensors in manifest.json. With --quantize fp8-block the weights are blockwise FP8 as "
        + "export --quantize writes them, each with its scales (weight_scale_inv) in the same bucket.")
public final class StreamExportCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "Megatron shards folder.")
  Path source;

  @Option(names = "--bucket-size", defaultValue = "512MiB", description = "Maximum bucket size (default ${DEFAULT-VALUE}).")
  String bucketSize;

  @Parameters(index = "1", arity = "0..1", description = "Output folder for the buckets (or --out DIR).")
  Path outputArgument;

  @Option(names = "--out", description = "Output folder for the buckets (the same as the positional OUT).")
  Path outputOption;

  @Option(names = "--overwrite", description = "Replace an existing output.")
  boolean overwrite;

  @Mixin
  QuantizeOptions quantize;

  @Mixin
  CommonOptions common;

  @Override
  public Integer call() {
    Output.existingDirectory(source, "Megatron folder");
    Path output = Output.oneOutput(outputArgument, outputOption, "--out");
    long limit = Output.parseSize(bucketSize, "--bucket-size");
    Optional<Fp8Blocks> blocks = quantize.blocks();
    try (MegatronCheckpoint checkpoint = MegatronCheckpoint.open(source, AutoBridge.discover())) {
      // The tensors export writes (with --quantize, the same FP8 codes and scales); lazy until streamed.
      HfFolderWriter.Prepared prepared = HfFolderWriter.prepare(checkpoint.model(), checkpoint.hfTensors(),
          new HfFolderWriter.Options(Optional.empty(), blocks));
      Map<String, Tensor> tensors = prepared.tensors();
      // Planned before the output exists: a tensor that cannot be split to fit fails with nothing written.
      WeightBuckets plan = new WeightBuckets(tensors, WeightBuckets.packedExpertNames(checkpoint.plan()), limit);
      List<Map<String, Object>> summary = new ArrayList<>();
      int splitTensors;
      int splitScales;
      String schema = checkpoint.manifest().options().schema().id();
      try (OutputDirectory out = OutputDirectory.create(output, overwrite, List.of(source))) {
        var progress = ConsoleProgress.create(common);
        progress.start("stream-export", tensors.values().stream().mapToLong(Tensor::byteSize).sum());
        ObjectNode manifest = Output.JSON.createObjectNode();
        manifest.put("bucket_size", limit);
        manifest.put("largest_bucket_bytes", plan.largestBucketBytes());
        prepared.fp8().ifPresent(config -> config.writeInto(manifest));
        ArrayNode buckets = manifest.putArray("buckets");
        ObjectNode split = Output.JSON.createObjectNode();
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
          Map<String, Object> line = new LinkedHashMap<>();
          line.put("file", file);
          line.put("tensors", bucket.tensors().size());
          line.put("bytes", bucket.bytes());
          summary.add(line);
        }
        manifest.set("split_tensors", split);
        progress.finish();
        Files.writeString(out.path().resolve("manifest.json"), manifest.toPrettyString() + "\n");
        out.commit();
        splitTensors = split.size();
        splitScales = 0;
        for (JsonNode entry : split) {
          splitScales += entry.has("scale_of") ? 1 : 0;
        }
      }
      if (common.json) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("command", "stream-export");
        report.put("schema", schema);
        report.put("bucket_size", limit);
        report.put("largest_bucket_bytes", plan.largestBucketBytes());
        report.put("split_tensors", splitTensors);
        report.put("quantize", blocks.map(Object::toString).orElse(null));
        report.put("buckets", summary);
        Output.json(report);
      } else {
        System.out.printf("stream-export (%s schema) → %s: %d bucket(s), the largest %s (limit %s)%s%s%n", schema,
            output, summary.size(),
            ByteSizes.format(plan.largestBucketBytes()), ByteSizes.format(limit),
            blocks.map(size -> " (blockwise FP8, " + size + ")").orElse(""),
            splitTensors == 0 ? "" : "; " + (splitTensors - splitScales) + " tensor(s) larger than the limit split "
                + "along axis 0" + (splitScales == 0 ? "" : ", " + splitScales + " of them FP8 with their scales"));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return 0;
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
