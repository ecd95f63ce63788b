package dev.megabridge.core.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.ConfigSection;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.io.Crc32;
import dev.megabridge.core.io.safetensors.SafetensorsWriter.FileChecksums;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code checksums.json} beside a rank's {@code model.safetensors}: which rank and which source the file was written
 * for, its size and the CRC-32 of its header, of each tensor and of the whole file, all taken from the writer's
 * blocks as the file was written. It lives in the rank's folder (not in {@code megabridge.json}) because with
 * {@code --ranks} each node writes its own ranks after the shared manifest exists; the rank's folder is committed
 * with it. The rank and source are also in the rank file's safetensors {@code __metadata__}
 * ({@link #RANK_KEY}, {@link #SOURCE_KEY}), so a rank file moved into another rank's folder is recognised.
 */
public record RankChecksums(String rank, String sourceIdentity, long bytes, int headerCrc32, int fileCrc32,
    Map<String, Integer> tensorCrc32) {

  public static final String FILE_NAME = "checksums.json";
  public static final String FORMAT = "megabridge-rank-checksums";
  /** {@code __metadata__} key of a rank file: the rank folder it belongs in. */
  public static final String RANK_KEY = "megabridge_rank";
  /** {@code __metadata__} key of a rank file: the source identity of the import that wrote it. */
  public static final String SOURCE_KEY = "megabridge_source";

  public RankChecksums {
    tensorCrc32 = Collections.unmodifiableMap(new LinkedHashMap<>(tensorCrc32));
  }

  public static RankChecksums of(String rank, String sourceIdentity, FileChecksums written) {
    return new RankChecksums(rank, sourceIdentity, written.bytes(), written.headerCrc32(), written.fileCrc32(),
        written.tensorCrc32());
  }

  /** The {@code __metadata__} of a rank file of {@code rank} written from the source {@code sourceIdentity}. */
  public static Map<String, String> fileMetadata(String rank, String sourceIdentity) {
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("format", "pt");
    metadata.put(RANK_KEY, rank);
    metadata.put(SOURCE_KEY, sourceIdentity);
    return metadata;
  }

  public void write(Path rankDirectory) {
    ObjectNode root = HfConfig.JSON.createObjectNode();
    root.put("format", FORMAT);
    root.put("file", ShardsManifest.RANK_FILE);
    root.put("rank", rank);
    root.put("source_identity", sourceIdentity);
    root.put("algorithm", "crc32");
    root.put("bytes", bytes);
    root.put("header_crc32", Crc32.hex(headerCrc32));
    root.put("file_crc32", Crc32.hex(fileCrc32));
    ObjectNode tensors = root.putObject("tensors");
    tensorCrc32.forEach((name, crc) -> tensors.put(name, Crc32.hex(crc)));
    Path file = rankDirectory.resolve(FILE_NAME);
    try {
      Files.writeString(file, root.toPrettyString() + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": write failed: " + e.getMessage(), e);
    }
  }

  /** The checksums of the rank in {@code rankDirectory}; empty when it has none. */
  public static Optional<RankChecksums> read(Path rankDirectory) {
    Path file = rankDirectory.resolve(FILE_NAME);
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    ObjectNode root = SourceRecordJson.readObject(file);
    try {
      ConfigSection top = new ConfigSection(file, "", root);
      if (!FORMAT.equals(top.stringOr("format", ""))) {
        throw new CheckpointFormatException(file + ": format is '" + top.stringOr("format", "") + "', not " + FORMAT);
      }
      if (!"crc32".equals(top.stringOr("algorithm", ""))) {
        throw new CheckpointFormatException(file + ": algorithm '" + top.stringOr("algorithm", "") + "' is unknown");
      }
      Map<String, Integer> tensors = new LinkedHashMap<>();
      JsonNode tensorNode = root.get("tensors");
      if (tensorNode == null || !tensorNode.isObject()) {
        throw new CheckpointFormatException(file + ": 'tensors' is missing or not an object");
      }
      tensorNode.properties().forEach(entry -> tensors.put(entry.getKey(),
          crc(file, "tensors." + entry.getKey(), entry.getValue().asText())));
      return Optional.of(new RankChecksums(top.optString("rank").orElseThrow(() -> top.missing("rank")),
          top.optString("source_identity").orElseThrow(() -> top.missing("source_identity")),
          top.optLong("bytes").orElseThrow(() -> top.missing("bytes")),
          crc(file, "header_crc32", top.optString("header_crc32").orElseThrow(() -> top.missing("header_crc32"))),
          crc(file, "file_crc32", top.optString("file_crc32").orElseThrow(() -> top.missing("file_crc32"))),
          tensors));
    } catch (ConfigException e) {
      throw new CheckpointFormatException(file + ": " + e.getMessage(), e);
    }
  }

  private static int crc(Path file, String key, String text) {
    if (!text.matches("[0-9a-f]{8}")) {
      throw new CheckpointFormatException(file + ": " + key + " is '" + text + "', not 8 hex digits");
    }
    return Integer.parseUnsignedInt(text, 16);
  }
}
