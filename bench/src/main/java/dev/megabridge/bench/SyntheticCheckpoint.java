package dev.megabridge.bench;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.StridedTensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Writes a synthetic HF checkpoint with the real widths of a given config (layers cut to a few): every
 * tensor the bridge expects, bf16 (F32 for {@code A_log} and {@code linear_attn.norm.weight} as official
 * checkpoints store them), random bytes, sharded like HF does.
 */
public final class SyntheticCheckpoint {
  private static final long SHARD_BYTES = 2L << 30;
  private static final int CHUNK = 8 << 20;

  private SyntheticCheckpoint() {}

  /**
   * The real config with {@code layers} decoder layers: linear attention except the last, full attention, so both
   * mixer kinds are present for any cut and 4 layers are exactly the real model's first period (3 : 1).
   */
  public static ObjectNode truncatedConfig(Path configDirectory, int layers) {
    HfConfig config = HfConfig.load(configDirectory);
    ObjectNode root = config.raw().deepCopy();
    ObjectNode text = (ObjectNode) root.get("text_config");
    text.put("num_hidden_layers", layers);
    if (text.has("layer_types")) {
      ArrayNode types = text.putArray("layer_types");
      for (int layer = 0; layer < layers; layer++) {
        types.add(layer == layers - 1 ? "full_attention" : "linear_attention");
      }
    }
    return root;
  }

  /** What {@code bench synthetic} wrote: the folder, its decoder layers and bytes of weights, the time taken. */
  public record Written(@JsonIgnore Path config, Path output, int layers, long bytes, double seconds)
      implements Report {

    @Override
    public String describe() {
      return String.format("synthetic %s with %d layers → %s: %s in %.2f s", config.getFileName(), layers,
          output.toAbsolutePath().normalize(), ByteSizes.format(bytes), seconds);
    }
  }

  /**
   * Writes an HF folder {@code output} (refused if it exists unless {@code overwrite}; all or nothing) with the
   * widths of the real config in {@code configDirectory}, {@code layers} decoder layers and weights of {@code seed}.
   */
  public static Written writeFolder(Path configDirectory, int layers, Path output, long seed, boolean overwrite) {
    long start = System.nanoTime();
    long bytes;
    try (OutputDirectory out = OutputDirectory.create(output, overwrite, List.of(configDirectory))) {
      bytes = write(truncatedConfig(configDirectory, layers), out.path(), seed);
      out.commit();
    }
    return new Written(configDirectory, output, layers, bytes, (System.nanoTime() - start) / 1e9);
  }

  /** Writes config.json and the weights into {@code output} (created); returns the bytes of weights. */
  public static long write(ObjectNode config, Path output, long seed) {
    try {
      Files.createDirectories(output);
      Files.writeString(output.resolve(HfConfig.FILE_NAME), config.toPrettyString());
      HfConfig parsed = HfConfig.load(output);
      BridgeModel model = AutoBridge.discover().fromConfig(parsed, Optional.empty(), BridgeOptions.defaults());
      List<List<SafetensorsWriter.Entry>> shards = new ArrayList<>();
      List<SafetensorsWriter.Entry> current = new ArrayList<>();
      long currentBytes = 0;
      long total = 0;
      for (HfTensorSpec spec : model.hfTensors()) {
        DType dtype = spec.name().endsWith("linear_attn.A_log") || spec.name().endsWith("linear_attn.norm.weight")
            ? DType.F32 : DType.BF16;
        StridedTensor shapeOnly = new StridedTensor(MemorySegment.NULL, 0, dtype, spec.shape(),
            spec.shape().contiguousStrides());
        long bytes = shapeOnly.byteSize();
        if (!current.isEmpty() && currentBytes + bytes > SHARD_BYTES) {
          shards.add(current);
          current = new ArrayList<>();
          currentBytes = 0;
        }
        current.add(new SafetensorsWriter.Entry(spec.name(), shapeOnly));
        currentBytes += bytes;
        total += bytes;
      }
      shards.add(current);
      Map<String, String> weightMap = new LinkedHashMap<>();
      SplittableRandom random = new SplittableRandom(seed);
      for (int index = 0; index < shards.size(); index++) {
        String file = String.format("model-%05d-of-%05d.safetensors", index + 1, shards.size());
        writeRandomFile(output.resolve(file), shards.get(index), random);
        for (SafetensorsWriter.Entry entry : shards.get(index)) {
          weightMap.put(entry.name(), file);
        }
      }
      SafetensorsWriter.writeIndex(output.resolve(SafetensorsCheckpoint.INDEX_FILE), weightMap, total);
      return total;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Header for the shape-only entries, then random bf16 values in [-0.5, 0.5) written in large chunks. */
  private static void writeRandomFile(Path file, List<SafetensorsWriter.Entry> entries, SplittableRandom random)
      throws IOException {
    byte[] header = SafetensorsWriter.header(entries, Map.of("format", "pt"));
    long dataBytes = entries.stream().mapToLong(entry -> entry.tensor().byteSize()).sum();
    ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
    // One random chunk reused with a rotating offset: cheap to make, never all-equal.
    while (chunk.remaining() >= 2) {
      chunk.putShort(DType.floatToBf16((float) (random.nextDouble() - 0.5)));
    }
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
      channel.write(length);
      channel.write(ByteBuffer.wrap(header));
      long written = 0;
      int rotation = 0;
      while (written < dataBytes) {
        int size = (int) Math.min(CHUNK, dataBytes - written);
        int start = (rotation * 4096) % (CHUNK / 2);
        ByteBuffer view = chunk.duplicate();
        view.clear();
        if (size > CHUNK - start) {
          view.position(0).limit(size);
        } else {
          view.position(start).limit(start + size);
        }
        while (view.hasRemaining()) {
          channel.write(view);
        }
        written += size;
        rotation++;
      }
      // Plain GDN norm gammas near 1, as trained models have (their Megatron form is gamma - 1, exact in fp32 for
      // gammas in [0.5, 2]); random bytes there would make the round trip inexact by construction.
      long dataStart = 8 + header.length;
      long offset = 0;
      for (SafetensorsWriter.Entry entry : entries) {
        long size = entry.tensor().byteSize();
        if (entry.name().endsWith("linear_attn.norm.weight")) {
          ByteBuffer gammas = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
          while (gammas.hasRemaining()) {
            gammas.putFloat((float) (0.75 + 0.5 * random.nextDouble()));
          }
          channel.write(gammas.flip(), dataStart + offset);
        }
        offset += size;
      }
    }
  }
}
