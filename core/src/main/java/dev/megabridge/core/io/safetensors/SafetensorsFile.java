package dev.megabridge.core.io.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.FileOrigin;
import dev.megabridge.core.tensor.StridedTensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped safetensors file. The header is validated completely when the file is opened, so a
 * file that opens is safe to read: every tensor lies inside the data area, its byte range matches
 * shape × dtype, and no two tensors overlap. Tensors are zero-copy views of the mapping, valid while the
 * owning arena is open.
 */
public final class SafetensorsFile {

  /** Headers above this size are rejected as absurd (the reference implementation uses 100 MB). */
  public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  static final ObjectMapper JSON = JsonMapper.builder()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  static {
    JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
        .maxStringLength((int) MAX_HEADER_BYTES).maxNestingDepth(16).build());
  }

  private final Path path;
  private final MemorySegment mapping;
  /** Where {@link #mapping} lies: the whole file from byte 0. */
  private final FileOrigin origin;
  private final long dataStart;
  private final Map<String, TensorInfo> entries;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path path, MemorySegment mapping, long dataStart, Map<String, TensorInfo> entries,
      Map<String, String> metadata) {
    this.path = path;
    this.mapping = mapping;
    this.origin = new FileOrigin(path.toAbsolutePath(), 0);
    this.dataStart = dataStart;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Maps and validates {@code file}; the mapping lives as long as {@code arena}. */
  public static SafetensorsFile open(Path file, Arena arena) {
    MemorySegment mapping;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size < 8) {
        throw fail(file, "file of " + size + " bytes is shorter than the 8-byte header length");
      }
      mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
    } catch (IOException e) {
      throw new CheckpointFormatException(file + ": cannot read: " + e.getMessage(), e);
    }
    long headerLength = mapping.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
    long fileSize = mapping.byteSize();
    if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
      throw fail(file, "header length " + Long.toUnsignedString(headerLength) + " is absurd (file has "
          + fileSize + " bytes)");
    }
    if (headerLength > fileSize - 8) {
      throw fail(file, "header length " + headerLength + " runs beyond the end of the file (" + fileSize
          + " bytes)");
    }
    byte[] headerBytes = mapping.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
    if (headerBytes[0] != '{') {
      // The reference implementation rejects this too (InvalidHeaderStart).
      throw fail(file, "header does not start with '{'");
    }
    String headerText;
    try {
      headerText = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(headerBytes)).toString();
    } catch (CharacterCodingException e) {
      throw fail(file, "header is not valid UTF-8");
    }
    JsonNode header;
    try {
      header = JSON.readTree(headerText);
    } catch (JsonProcessingException e) {
      throw fail(file, "header is not valid JSON: " + e.getOriginalMessage());
    }
    if (header == null || !header.isObject()) {
      throw fail(file, "header is not a JSON object");
    }
    long dataStart = 8 + headerLength;
    long dataLength = fileSize - dataStart;
    Map<String, TensorInfo> entries = new LinkedHashMap<>();
    Map<String, String> metadata = Map.of();
    for (Map.Entry<String, JsonNode> field : header.properties()) {
      String name = field.getKey();
      if (name.equals(SafetensorsWriter.METADATA_KEY)) {
        metadata = parseMetadata(file, field.getValue());
        continue;
      }
      entries.put(name, parseEntry(file, name, field.getValue(), dataLength));
    }
    checkCoverage(file, entries, dataStart, fileSize);
    return new SafetensorsFile(file, mapping, dataStart, Collections.unmodifiableMap(entries), metadata);
  }

  private static Map<String, String> parseMetadata(Path file, JsonNode node) {
    if (!node.isObject()) {
      throw fail(file, "__metadata__ is not an object");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> field : node.properties()) {
      if (!field.getValue().isTextual()) {
        throw fail(file, "__metadata__ value of '" + field.getKey() + "' is not a string");
      }
      metadata.put(field.getKey(), field.getValue().textValue());
    }
    return Collections.unmodifiableMap(metadata);
  }

  private static TensorInfo parseEntry(Path file, String name, JsonNode node, long dataLength) {
    String where = "tensor '" + name + "'";
    if (!node.isObject()) {
      throw fail(file, where + ": entry is not an object");
    }
    JsonNode dtypeNode = node.get("dtype");
    if (dtypeNode == null || !dtypeNode.isTextual()) {
      throw fail(file, where + ": missing or non-string dtype");
    }
    DType dtype = DType.fromSafetensorsName(dtypeNode.textValue())
        .orElseThrow(() -> fail(file, where + ": unknown dtype '" + dtypeNode.textValue() + "'"));
    JsonNode shapeNode = node.get("shape");
    if (shapeNode == null || !shapeNode.isArray() || shapeNode.size() > 16) {
      throw fail(file, where + ": missing or invalid shape");
    }
    long[] dims = new long[shapeNode.size()];
    for (int axis = 0; axis < dims.length; axis++) {
      JsonNode dim = shapeNode.get(axis);
      if (!dim.isIntegralNumber() || !dim.canConvertToLong() || dim.longValue() < 0) {
        throw fail(file, where + ": shape entry " + dim + " is not a non-negative integer");
      }
      dims[axis] = dim.longValue();
    }
    JsonNode offsets = node.get("data_offsets");
    if (offsets == null || !offsets.isArray() || offsets.size() != 2
        || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()
        || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
      throw fail(file, where + ": data_offsets must be two integers");
    }
    long begin = offsets.get(0).longValue();
    long end = offsets.get(1).longValue();
    if (begin < 0 || end < begin) {
      throw fail(file, where + ": data_offsets [" + begin + ", " + end + "] are not an ordered range");
    }
    if (end > dataLength) {
      throw fail(file, where + ": data_offsets [" + begin + ", " + end + "] lie outside the data area of "
          + dataLength + " bytes");
    }
    Shape shape = Shape.of(dims);
    long expected;
    try {
      // The product of the non-zero dimensions must fit too: it bounds every row-major stride of the shape,
      // so an empty tensor of shape [0, 2^40, 2^40] cannot produce overflowing strides later.
      long nonZeroBytes = dtype.byteSize();
      for (long dim : dims) {
        nonZeroBytes = Math.multiplyExact(nonZeroBytes, Math.max(dim, 1));
      }
      expected = Math.multiplyExact(shape.numel(), (long) dtype.byteSize());
    } catch (ArithmeticException e) {
      throw fail(file, where + ": shape " + shape + " overflows");
    }
    if (expected != end - begin) {
      throw fail(file, where + ": " + dtype + shape + " needs " + expected + " bytes but data_offsets ["
          + begin + ", " + end + "] hold " + (end - begin));
    }
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String key = it.next();
      if (!key.equals("dtype") && !key.equals("shape") && !key.equals("data_offsets")) {
        throw fail(file, where + ": unexpected key '" + key + "'");
      }
    }
    return new TensorInfo(name, dtype, shape, begin, end);
  }

  /**
   * The non-empty tensors must tile the data area exactly, as the reference implementation requires (it
   * rejects a gap as an invalid offset and bytes after the last tensor as "incomplete metadata, file not
   * fully covered"): no overlaps, no gaps, and the last tensor ends where the file ends. Empty tensors hold
   * no bytes and may sit at any in-range offset.
   */
  private static void checkCoverage(Path file, Map<String, TensorInfo> entries, long dataStart, long fileSize) {
    List<TensorInfo> sorted = new ArrayList<>(entries.values());
    sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
    TensorInfo previous = null;
    long covered = 0;
    for (TensorInfo info : sorted) {
      if (info.byteSize() == 0) {
        continue;
      }
      if (previous != null && info.begin() < previous.end()) {
        throw fail(file, "tensors '" + previous.name() + "' [" + previous.begin() + ", " + previous.end()
            + ") and '" + info.name() + "' [" + info.begin() + ", " + info.end() + ") overlap");
      }
      if (info.begin() > covered) {
        throw fail(file, "tensor '" + info.name() + "' starts at data offset " + info.begin() + " but "
            + (previous == null ? "no tensor precedes it" : "tensor '" + previous.name() + "' ends at " + covered)
            + ": " + (info.begin() - covered) + " bytes belong to no tensor (safetensors requires the tensors to "
            + "cover the data area exactly)");
      }
      previous = info;
      covered = info.end();
    }
    long dataEnd = dataStart + covered;
    if (dataEnd != fileSize) {
      throw fail(file, "the tensor data ends at byte " + dataEnd + " but the file has " + fileSize + " bytes: "
          + (fileSize - dataEnd) + " trailing bytes after the last tensor (safetensors' reader rejects such a "
          + "file: \"file not fully covered\")");
    }
  }

  private static CheckpointFormatException fail(Path file, String message) {
    return new CheckpointFormatException(file + ": " + message);
  }

  public Path path() {
    return path;
  }

  /** Entries in header order. */
  public Map<String, TensorInfo> entries() {
    return entries;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  /** A zero-copy view of tensor {@code name}, carrying where its bytes lie in the file. */
  public StridedTensor tensor(String name) {
    TensorInfo info = entries.get(name);
    if (info == null) {
      throw fail(path, "no tensor '" + name + "'");
    }
    long start = dataStart + info.begin();
    return StridedTensor.contiguous(info.dtype(), info.shape(), mapping.asSlice(start, info.byteSize()))
        .withOrigin(origin.plus(start));
  }
}
