package dev.megabridge.core.io.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.io.safetensors.SafetensorsWriter.Entry;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writer → reader round trips, and the byte layout Python's {@code safetensors} expects, checked on the raw
 * bytes with an independent JSON parser: {@code u64 LE N ‖ N bytes of JSON padded with spaces, N % 8 == 0 ‖
 * data}, offsets contiguous from 0 in entry order, the data area exactly as long as the tensors.
 */
class SafetensorsWriterTest {

  private static final ObjectMapper PLAIN_JSON = new ObjectMapper();

  @TempDir Path dir;

  private static RandomGenerator random(long seed) {
    return RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
  }

  private static StridedTensor randomTensor(RandomGenerator random, DType dtype, long... dims) {
    Shape shape = Shape.of(dims);
    byte[] bytes = new byte[Math.toIntExact(shape.numel() * dtype.byteSize())];
    random.nextBytes(bytes);
    return StridedTensor.contiguous(dtype, shape, MemorySegment.ofArray(bytes));
  }

  /** Dense, strided, concatenated, converted, empty and scalar tensors of several dtypes. */
  private static List<Entry> mixedEntries(RandomGenerator random) {
    StridedTensor matrix = randomTensor(random, DType.F32, 6, 10);
    return List.of(
        new Entry("dense.bf16", randomTensor(random, DType.BF16, 3, 5)),
        new Entry("strided.f32", matrix.slice(1, 3, 4)),
        new Entry("concat.f32", Tensor.concat(1, List.of(matrix.slice(1, 0, 2), matrix.slice(1, 7, 3)))),
        new Entry("converted.bf16", matrix.convert(DType.BF16, 1f)),
        new Entry("stacked.i64", Tensor.stack(List.of(randomTensor(random, DType.I64, 2),
            randomTensor(random, DType.I64, 2)))),
        new Entry("empty.f16", randomTensor(random, DType.F16, 0, 4)),
        new Entry("scalar.u8", randomTensor(random, DType.U8)),
        new Entry("flags.bool", randomTensor(random, DType.BOOL, 7)),
        new Entry("fp8.e4m3", randomTensor(random, DType.F8_E4M3, 3, 3)));
  }

  @Test
  void roundTripsMixedDtypesAndLazyViews() {
    List<Entry> entries = mixedEntries(random(1));
    AtomicLong progress = new AtomicLong();
    Path file = dir.resolve("model.safetensors");
    SafetensorsWriter.writeFile(file, entries, progress::addAndGet);
    long total = entries.stream().mapToLong(entry -> entry.tensor().byteSize()).sum();
    assertThat(progress.get()).isEqualTo(total);
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
      assertThat(checkpoint.names()).containsExactlyElementsOf(entries.stream().map(Entry::name).toList());
      assertThat(checkpoint.files().getFirst().metadata()).containsExactly(Map.entry("format", "pt"));
      for (Entry entry : entries) {
        assertThat(Tensor.contentEquals(checkpoint.tensor(entry.name()), entry.tensor())).as(entry.name()).isTrue();
      }
    }
  }

  @Test
  void headerFollowsThePythonLayoutForEveryPaddingResidue() throws IOException {
    RandomGenerator random = random(2);
    for (int nameLength = 1; nameLength <= 8; nameLength++) {
      List<Entry> entries = new ArrayList<>(mixedEntries(random));
      entries.add(new Entry("n".repeat(nameLength) + "-é", randomTensor(random, DType.I16, 3)));
      Path file = dir.resolve("layout-" + nameLength + ".safetensors");
      SafetensorsWriter.writeFile(file, entries, bytes -> {});
      assertPythonLayout(Files.readAllBytes(file), entries, Map.of("format", "pt"));
    }
  }

  /** The layout rules of the reference implementation, checked on raw bytes. */
  static void assertPythonLayout(byte[] bytes, List<Entry> entries, Map<String, String> metadata)
      throws IOException {
    long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertThat(headerLength % 8).as("header length %d is a multiple of 8", headerLength).isZero();
    String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
    String json = header.stripTrailing();
    assertThat(headerLength - json.getBytes(StandardCharsets.UTF_8).length).as("padding").isBetween(0L, 7L);
    assertThat(header.substring(json.length())).as("padding is spaces").matches(" *");
    assertThat(json).startsWith("{");
    JsonNode root = PLAIN_JSON.readTree(json);
    Iterator<String> keys = root.fieldNames();
    assertThat(keys.next()).isEqualTo("__metadata__");
    metadata.forEach((key, value) -> assertThat(root.get("__metadata__").get(key).textValue()).isEqualTo(value));
    assertThat(root.get("__metadata__").size()).isEqualTo(metadata.size());
    long dataStart = 8 + headerLength;
    long expectedBegin = 0;
    for (Entry entry : entries) {
      assertThat(keys.next()).isEqualTo(entry.name());
      JsonNode node = root.get(entry.name());
      assertThat(node.get("dtype").textValue()).isEqualTo(entry.tensor().dtype().name());
      List<Long> shape = new ArrayList<>();
      node.get("shape").forEach(dim -> shape.add(dim.longValue()));
      assertThat(shape).isEqualTo(entry.tensor().shape().toList());
      long begin = node.get("data_offsets").get(0).longValue();
      long end = node.get("data_offsets").get(1).longValue();
      assertThat(begin).as("offsets of %s are contiguous", entry.name()).isEqualTo(expectedBegin);
      assertThat(end - begin).isEqualTo(entry.tensor().byteSize());
      assertThat(Arrays.copyOfRange(bytes, (int) (dataStart + begin), (int) (dataStart + end)))
          .as(entry.name()).isEqualTo(entry.tensor().toByteArray());
      expectedBegin = end;
    }
    assertThat(keys.hasNext()).isFalse();
    assertThat((long) bytes.length).as("the data area ends with the last tensor").isEqualTo(dataStart + expectedBegin);
  }

  @Test
  void headerOfNoTensorsIsOnlyTheMetadata() throws IOException {
    SafetensorsWriter.writeFile(dir.resolve("model.safetensors"), List.of(), bytes -> {});
    byte[] bytes = Files.readAllBytes(dir.resolve("model.safetensors"));
    assertPythonLayout(bytes, List.of(), Map.of("format", "pt"));
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
      assertThat(checkpoint.names()).isEmpty();
    }
  }

  @Test
  void shardsGreedilyByMaximumSizeAndWritesAnIndex() throws IOException {
    long seed = 3;
    RandomGenerator random = random(seed);
    List<Entry> entries = new ArrayList<>();
    for (int index = 0; index < 40; index++) {
      DType dtype = random.nextBoolean() ? DType.BF16 : DType.F32;
      entries.add(new Entry("layers." + index + ".weight", randomTensor(random, dtype, random.nextInt(0, 9),
          random.nextInt(1, 9))));
    }
    entries.add(new Entry("huge", randomTensor(random, DType.F32, 40, 10))); // larger than a shard
    long maxShardBytes = 600;
    Map<String, String> fileOf = SafetensorsWriter.writeSharded(dir, entries, maxShardBytes, 2, bytes -> {});

    JsonNode index = PLAIN_JSON.readTree(dir.resolve(SafetensorsCheckpoint.INDEX_FILE).toFile());
    long total = entries.stream().mapToLong(entry -> entry.tensor().byteSize()).sum();
    assertThat(index.get("metadata").get("total_size").longValue()).isEqualTo(total);
    List<String> indexNames = new ArrayList<>();
    index.get("weight_map").fieldNames().forEachRemaining(indexNames::add);
    assertThat(indexNames).isSorted().containsExactlyInAnyOrderElementsOf(fileOf.keySet());
    index.get("weight_map").properties().forEach(field ->
        assertThat(field.getValue().textValue()).isEqualTo(fileOf.get(field.getKey())));

    // Shards hold consecutive runs of entries; each is within the limit unless it holds one tensor, and the
    // next shard's first tensor would not have fitted (greedy).
    List<String> shardNames = fileOf.values().stream().distinct().toList();
    int count = shardNames.size();
    assertThat(count).isGreaterThan(2);
    List<List<Entry>> shards = new ArrayList<>();
    for (int shard = 0; shard < count; shard++) {
      String name = "model-%05d-of-%05d.safetensors".formatted(shard + 1, count);
      assertThat(shardNames.get(shard)).isEqualTo(name);
      shards.add(entries.stream().filter(entry -> fileOf.get(entry.name()).equals(name)).toList());
    }
    assertThat(shards.stream().flatMap(List::stream).toList()).containsExactlyElementsOf(entries);
    for (int shard = 0; shard < count; shard++) {
      long bytes = shards.get(shard).stream().mapToLong(entry -> entry.tensor().byteSize()).sum();
      if (shards.get(shard).size() > 1) {
        assertThat(bytes).as("shard %d", shard).isLessThanOrEqualTo(maxShardBytes);
      }
      if (shard + 1 < count) {
        assertThat(bytes + shards.get(shard + 1).getFirst().tensor().byteSize()).isGreaterThan(maxShardBytes);
      }
      assertPythonLayout(Files.readAllBytes(dir.resolve(shardNames.get(shard))), shards.get(shard),
          Map.of("format", "pt"));
    }
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
      assertThat(checkpoint.files()).hasSize(count);
      for (Entry entry : entries) {
        assertThat(Tensor.contentEquals(checkpoint.tensor(entry.name()), entry.tensor())).as(entry.name()).isTrue();
      }
    }
  }

  @Test
  void everythingWithinTheLimitIsOneFileWithoutIndex() {
    List<Entry> entries = mixedEntries(random(4));
    Map<String, String> fileOf = SafetensorsWriter.writeSharded(dir, entries, Long.MAX_VALUE, 2, bytes -> {});
    assertThat(fileOf.values()).containsOnly(SafetensorsCheckpoint.SINGLE_FILE);
    assertThat(dir.resolve(SafetensorsCheckpoint.INDEX_FILE)).doesNotExist();
    assertThat(dir.resolve(SafetensorsCheckpoint.SINGLE_FILE)).isRegularFile();
  }

  @Test
  void refusesNamesThatCannotRoundTrip() {
    Tensor tensor = Tensor.ofFloats(Shape.of(1), 1f);
    Path file = dir.resolve("x.safetensors");
    assertThatThrownBy(() -> SafetensorsWriter.writeFile(file, List.of(new Entry("a", tensor), new Entry("a", tensor)),
        bytes -> {})).isInstanceOf(InternalException.class).hasMessageContaining("'a'");
    assertThatThrownBy(() -> SafetensorsWriter.writeFile(file, List.of(new Entry("__metadata__", tensor)),
        bytes -> {})).isInstanceOf(InternalException.class).hasMessageContaining("__metadata__");
    assertThatThrownBy(() -> SafetensorsWriter.writeShards(dir, List.of(List.of(new Entry("a", tensor)),
        List.of(new Entry("a", tensor))), List.of("1.safetensors", "2.safetensors"), 2, bytes -> {}))
        .isInstanceOf(InternalException.class).hasMessageContaining("'a'");
    assertThat(dir.resolve("1.safetensors")).doesNotExist();
  }

  @Test
  void neverOverwritesAnExistingFile() throws IOException {
    Path file = Files.writeString(dir.resolve("model.safetensors"), "keep");
    assertThatThrownBy(() -> SafetensorsWriter.writeFile(file, List.of(), bytes -> {}))
        .hasMessageContaining(file.toString());
    assertThat(Files.readString(file)).isEqualTo("keep");
  }
}
