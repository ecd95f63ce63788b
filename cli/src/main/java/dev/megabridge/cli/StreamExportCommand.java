package dev.megabridge.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.convert.MegatronCheckpoint;
import dev.megabridge.core.convert.WeightBuckets;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Streams HF-named weights out of a Megatron folder in size-bounded buckets (RL weight sync). */
@Command(name = "stream-export", mixinStandardHelpOptions = true,
    description = "Yield (HF name, tensor) pairs in buckets of at most --bucket-size, gathering TP/EP shards on the "
        + "fly; each bucket is written as bucket-NNNNN.safetensors, listed in manifest.json.")
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
  CommonOptions common;

  @Override
  public Integer call() {
    Output.existingDirectory(source, "Megatron folder");
    Path output = Output.oneOutput(outputArgument, outputOption, "--out");
    long limit = Output.parseSize(bucketSize, "--bucket-size");
    try (MegatronCheckpoint checkpoint = MegatronCheckpoint.open(source, AutoBridge.discover());
        OutputDirectory out = OutputDirectory.create(output, overwrite)) {
      Map<String, Tensor> tensors = checkpoint.hfTensors();
      var progress = ConsoleProgress.create(common);
      progress.start("stream-export", tensors.values().stream().mapToLong(Tensor::byteSize).sum());
      ObjectNode manifest = Output.JSON.createObjectNode();
      manifest.put("bucket_size", limit);
      ArrayNode buckets = manifest.putArray("buckets");
      List<Map<String, Object>> summary = new ArrayList<>();
      for (WeightBuckets.Bucket bucket : new WeightBuckets(tensors, limit)) {
        String file = String.format("bucket-%05d.safetensors", bucket.index());
        List<SafetensorsWriter.Entry> entries = bucket.tensors().stream()
            .map(named -> new SafetensorsWriter.Entry(named.name(), named.tensor())).toList();
        SafetensorsWriter.writeFile(out.path().resolve(file), entries, progress::advance);
        ObjectNode node = buckets.addObject();
        node.put("file", file).put("bytes", bucket.bytes());
        ArrayNode names = node.putArray("tensors");
        bucket.tensors().forEach(named -> names.add(named.name()));
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("file", file);
        line.put("tensors", bucket.tensors().size());
        line.put("bytes", bucket.bytes());
        summary.add(line);
      }
      progress.finish();
      Files.writeString(out.path().resolve("manifest.json"), manifest.toPrettyString() + "\n");
      out.commit();
      if (common.json) {
        Output.json(Map.of("command", "stream-export", "buckets", summary));
      } else {
        System.out.printf("stream-export → %s: %d bucket(s) of at most %s%n", output, summary.size(),
            Output.bytes(limit));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return 0;
  }
}
