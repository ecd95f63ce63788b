package dev.megabridge.core.io.safetensors;

import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.safetensors.SafetensorsWriter.Entry;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Robustness: thousands of seeded mutations of valid files (truncation, bit flips, edited length prefixes,
 * offsets, shapes and dtypes, random JSON and text edits) and of index files. Each must end either in a
 * successful open whose every tensor reads fully within bounds, or in a {@link CheckpointFormatException};
 * any other exception fails the test with the seed and iteration that reproduce it.
 */
class SafetensorsMutationTest {

  private static final long SEED = 0x5AFE_7E45L;
  private static final int FILE_MUTATIONS = 3000;
  private static final int INDEX_MUTATIONS = 250;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final List<String> DTYPE_NAMES = List.of("F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2",
      "I64", "I32", "I16", "I8", "U8", "BOOL", "F4", "bf16", "", "U64");

  @TempDir Path dir;

  private static RandomGenerator random(long seed) {
    return RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
  }

  private static List<Entry> entries(RandomGenerator random) {
    List<Entry> entries = new ArrayList<>();
    DType[] dtypes = {DType.F32, DType.BF16, DType.I64, DType.U8, DType.F16, DType.I32, DType.BOOL};
    for (int index = 0; index < 6; index++) {
      DType dtype = dtypes[random.nextInt(dtypes.length)];
      Shape shape = switch (index) {
        case 0 -> Shape.of();
        case 1 -> Shape.of(0, 3);
        default -> Shape.of(random.nextInt(1, 6), random.nextInt(1, 6));
      };
      byte[] bytes = new byte[(int) (shape.numel() * dtype.byteSize())];
      random.nextBytes(bytes);
      entries.add(new Entry("t" + index, StridedTensor.contiguous(dtype, shape, MemorySegment.ofArray(bytes))));
    }
    return entries;
  }

  private static byte[] validFile(RandomGenerator random, Path scratch) throws IOException {
    Files.deleteIfExists(scratch);
    SafetensorsWriter.writeFile(scratch, entries(random), bytes -> {});
    return Files.readAllBytes(scratch);
  }

  @Test
  void mutatedFilesOpenCleanlyOrFailWithCheckpointFormatException() throws IOException {
    RandomGenerator random = random(SEED);
    List<byte[]> originals = new ArrayList<>();
    for (int index = 0; index < 4; index++) {
      originals.add(validFile(random, dir.resolve("original.safetensors")));
    }
    Path file = dir.resolve("mutant.safetensors");
    int opened = 0;
    for (int iteration = 0; iteration < FILE_MUTATIONS; iteration++) {
      long seed = SEED + iteration;
      RandomGenerator mutator = random(seed);
      byte[] bytes = originals.get(mutator.nextInt(originals.size()));
      List<String> applied = new ArrayList<>();
      int rounds = mutator.nextInt(1, 4);
      for (int round = 0; round < rounds; round++) {
        bytes = mutate(mutator, bytes, applied);
      }
      Files.write(file, bytes);
      boolean success = opensOrIsRejected(seed, applied, () -> {
        try (Arena arena = Arena.ofConfined()) {
          SafetensorsFile mutant = SafetensorsFile.open(file, arena);
          readEverything(mutant.entries().keySet().stream().map(mutant::tensor).toList());
        }
      });
      opened += success ? 1 : 0;
    }
    if (opened == 0 || opened == FILE_MUTATIONS) {
      fail("mutations should both pass and fail sometimes; opened " + opened + " of " + FILE_MUTATIONS);
    }
  }

  /**
   * Runs {@code openAndRead}: true if it completes, false on a {@link CheckpointFormatException}; any other
   * exception fails with the seed that reproduces it.
   */
  private static boolean opensOrIsRejected(long seed, List<String> applied, Runnable openAndRead) {
    try {
      openAndRead.run();
      return true;
    } catch (CheckpointFormatException expected) {
      return false;
    } catch (RuntimeException | Error e) {
      throw new AssertionError("seed " + seed + ", mutations " + applied + ": " + e, e);
    }
  }

  /** Reads every byte and the first and last element of each tensor: all must lie within bounds. */
  private static void readEverything(List<StridedTensor> tensors) {
    for (StridedTensor tensor : tensors) {
      byte[] bytes = tensor.toByteArray();
      if (bytes.length != tensor.numel() * tensor.dtype().byteSize()) {
        throw new AssertionError(tensor + " read " + bytes.length + " bytes");
      }
      if (tensor.numel() > 0 && tensor.dtype() != DType.F8_E4M3 && tensor.dtype() != DType.F8_E5M2) {
        tensor.getFloat(0);
        tensor.getLong(tensor.numel() - 1);
      }
    }
  }

  private static byte[] mutate(RandomGenerator random, byte[] bytes, List<String> applied) {
    long headerLength = bytes.length >= 8 ? ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong() : 0;
    boolean headerIntact = headerLength >= 2 && headerLength <= bytes.length - 8;
    int kind = random.nextInt(headerIntact ? 8 : 4);
    switch (kind) {
      case 0 -> {
        int length = random.nextInt(bytes.length + 1);
        applied.add("truncate to " + length);
        return Arrays.copyOf(bytes, length);
      }
      case 1 -> {
        byte[] out = bytes.clone();
        int limit = random.nextBoolean() ? Math.min(out.length, (int) Math.min(8 + Math.max(headerLength, 0), 4096))
            : out.length;
        if (limit == 0) {
          return out;
        }
        int flips = random.nextInt(1, 9);
        for (int flip = 0; flip < flips; flip++) {
          int position = random.nextInt(limit);
          out[position] ^= (byte) (1 << random.nextInt(8));
        }
        applied.add(flips + " bit flips below " + limit);
        return out;
      }
      case 2 -> {
        if (bytes.length < 8) {
          return bytes;
        }
        long declared = switch (random.nextInt(4)) {
          case 0 -> headerLength + random.nextInt(-16, 17);
          case 1 -> random.nextLong();
          case 2 -> random.nextLong(0, bytes.length + 64);
          default -> random.nextBoolean() ? 0 : SafetensorsFile.MAX_HEADER_BYTES + random.nextInt(-1, 2);
        };
        applied.add("length prefix " + declared);
        byte[] out = bytes.clone();
        ByteBuffer.wrap(out, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(declared);
        return out;
      }
      case 3 -> {
        int extra = random.nextInt(-16, 17);
        applied.add("resize data by " + extra);
        byte[] out = Arrays.copyOf(bytes, Math.max(0, bytes.length + extra));
        return out;
      }
      default -> {
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOfRange(bytes, (int) (8 + headerLength), bytes.length);
        String edited = kind == 7 ? editText(random, header, applied) : editJson(random, header, applied);
        byte[] newHeader = edited.getBytes(StandardCharsets.UTF_8);
        long declared = random.nextInt(10) == 0 ? headerLength : newHeader.length;
        return SafetensorsBytes.raw(declared, newHeader, data);
      }
    }
  }

  private static String editText(RandomGenerator random, String header, List<String> applied) {
    StringBuilder text = new StringBuilder(header);
    int edits = random.nextInt(1, 4);
    String alphabet = "{}[]\",:0123456789-.eE ntrufalsF3IBU_\\\u00e9";
    for (int edit = 0; edit < edits && !text.isEmpty(); edit++) {
      int position = random.nextInt(text.length());
      switch (random.nextInt(3)) {
        case 0 -> text.deleteCharAt(position);
        case 1 -> text.insert(position, alphabet.charAt(random.nextInt(alphabet.length())));
        default -> text.setCharAt(position, alphabet.charAt(random.nextInt(alphabet.length())));
      }
    }
    applied.add("text edits " + edits);
    return text.toString();
  }

  private static String editJson(RandomGenerator random, String header, List<String> applied) {
    ObjectNode root;
    try {
      JsonNode parsed = JSON.readTree(header);
      if (!(parsed instanceof ObjectNode object)) {
        return header;
      }
      root = object;
    } catch (IOException e) {
      return header;
    }
    List<String> names = new ArrayList<>();
    root.fieldNames().forEachRemaining(names::add);
    if (names.isEmpty()) {
      return header;
    }
    String name = names.get(random.nextInt(names.size()));
    JsonNode node = root.get(name);
    if (!(node instanceof ObjectNode entry)) {
      return header;
    }
    String field = List.of("dtype", "shape", "data_offsets", "format", "extra").get(random.nextInt(5));
    JsonNode value = switch (random.nextInt(8)) {
      case 0 -> JsonNodeFactory.instance.textNode(DTYPE_NAMES.get(random.nextInt(DTYPE_NAMES.size())));
      case 1 -> randomLongArray(random, random.nextInt(0, 4), entry.get(field));
      case 2 -> randomLongArray(random, 2, entry.get(field));
      case 3 -> JsonNodeFactory.instance.numberNode(random.nextLong());
      case 4 -> JsonNodeFactory.instance.numberNode(random.nextDouble() * 100);
      case 5 -> JsonNodeFactory.instance.nullNode();
      case 6 -> JsonNodeFactory.instance.arrayNode().add("x").add(true);
      default -> null;
    };
    if (value == null) {
      entry.remove(field);
    } else {
      entry.set(field, value);
    }
    applied.add("json " + name + "." + field + " = " + value);
    return root.toString() + " ".repeat(random.nextInt(8));
  }

  /** Integers near the old values (when there were any), or extreme ones. */
  private static ArrayNode randomLongArray(RandomGenerator random, int size, JsonNode old) {
    ArrayNode array = JsonNodeFactory.instance.arrayNode();
    for (int index = 0; index < size; index++) {
      long base = old != null && old.isArray() && old.has(index) ? old.get(index).asLong() : 0;
      switch (random.nextInt(5)) {
        case 0 -> array.add(base + random.nextInt(-9, 10));
        case 1 -> array.add(random.nextLong());
        case 2 -> array.add(Long.MAX_VALUE - random.nextInt(3));
        case 3 -> array.add(new java.math.BigInteger("18446744073709551616").add(java.math.BigInteger.valueOf(index)));
        default -> array.add(random.nextInt(0, 64));
      }
    }
    return array;
  }

  @Test
  void mutatedShardedCheckpointsOpenCleanlyOrFailWithCheckpointFormatException() throws IOException {
    RandomGenerator random = random(SEED ^ 0x1D3);
    List<Entry> entries = entries(random);
    Path original = dir.resolve("original");
    Files.createDirectories(original);
    SafetensorsWriter.writeShards(original, List.of(entries.subList(0, 3), entries.subList(3, 6)),
        List.of("a.safetensors", "b.safetensors"), 2, bytes -> {});
    String index = Files.readString(original.resolve(SafetensorsCheckpoint.INDEX_FILE));
    byte[] shardA = Files.readAllBytes(original.resolve("a.safetensors"));
    byte[] shardB = Files.readAllBytes(original.resolve("b.safetensors"));
    Path mutant = dir.resolve("mutant");
    Files.createDirectories(mutant);
    int opened = 0;
    for (int iteration = 0; iteration < INDEX_MUTATIONS; iteration++) {
      long seed = SEED + 1_000_000 + iteration;
      RandomGenerator mutator = random(seed);
      List<String> applied = new ArrayList<>();
      String mutatedIndex = mutator.nextBoolean() ? editText(mutator, index, applied)
          : editWeightMap(mutator, index, applied);
      Files.writeString(mutant.resolve(SafetensorsCheckpoint.INDEX_FILE), mutatedIndex);
      Files.write(mutant.resolve("a.safetensors"), mutator.nextInt(4) == 0 ? mutate(mutator, shardA, applied) : shardA);
      Files.write(mutant.resolve("b.safetensors"), shardB);
      boolean success = opensOrIsRejected(seed, applied, () -> {
        try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(mutant)) {
          readEverything(checkpoint.names().stream().map(checkpoint::tensor).toList());
        }
      });
      opened += success ? 1 : 0;
    }
    if (opened == 0 || opened == INDEX_MUTATIONS) {
      fail("mutations should both pass and fail sometimes; opened " + opened + " of " + INDEX_MUTATIONS);
    }
  }

  private static String editWeightMap(RandomGenerator random, String index, List<String> applied) throws IOException {
    ObjectNode root = (ObjectNode) JSON.readTree(index);
    ObjectNode weightMap = (ObjectNode) root.get("weight_map");
    List<String> names = new ArrayList<>();
    weightMap.fieldNames().forEachRemaining(names::add);
    String name = names.get(random.nextInt(names.size()));
    switch (random.nextInt(6)) {
      case 0 -> weightMap.remove(name);
      case 1 -> weightMap.put(name, List.of("a.safetensors", "b.safetensors", "c.safetensors", "../a.safetensors",
          "", "mutant").get(random.nextInt(6)));
      case 2 -> weightMap.put("new" + random.nextInt(3), random.nextBoolean() ? "a.safetensors" : "b.safetensors");
      case 3 -> weightMap.put(name, random.nextInt());
      case 4 -> root.put("weight_map", "oops");
      default -> root.remove("weight_map");
    }
    applied.add("weight_map edit of " + name + " -> " + root);
    return root.toString();
  }
}
