package dev.megabridge.core.io.safetensors;

import static dev.megabridge.core.io.safetensors.SafetensorsBytes.counting;
import static dev.megabridge.core.io.safetensors.SafetensorsBytes.file;
import static dev.megabridge.core.io.safetensors.SafetensorsBytes.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reader's validation, one test per rule, on hand-assembled files: each rule rejects with a
 * {@link CheckpointFormatException} whose message names the file and, where one is involved, the tensor.
 */
class SafetensorsReaderTest {

  @TempDir Path dir;

  private static void assertRejected(ThrowingCallable open, String... fragments) {
    assertThatThrownBy(open).isInstanceOf(CheckpointFormatException.class).message().contains(fragments);
  }

  private Path single(String header, byte[] data) {
    return write(dir.resolve("model.safetensors"), file(header, data));
  }

  private void assertFileRejected(Path file, String... fragments) {
    String[] all = Arrays.copyOf(fragments, fragments.length + 1);
    all[fragments.length] = file.toString();
    assertRejected(() -> SafetensorsCheckpoint.open(file.getParent()).close(), all);
  }

  /** A header with one tensor 'w' described by {@code entry} (the JSON object body). */
  private static String oneTensor(String entry) {
    return "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{" + entry + "}}";
  }

  // ---- valid files ------------------------------------------------------------------------------------

  @Test
  void readsMixedDtypesZeroSizeTensorsAndMetadata() {
    String header = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]},"
        + "\"empty\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[24,24]},"
        + "\"s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[24,25]}}";
    Path file = single(header, counting(25));
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
      assertThat(checkpoint.names()).containsExactly("b", "a", "empty", "s");
      assertThat(checkpoint.files().getFirst().metadata())
          .containsExactly(Map.entry("format", "pt"), Map.entry("note", "x"));
      assertThat(checkpoint.dtype("b")).isEqualTo(DType.BF16);
      assertThat(checkpoint.dtype("a")).isEqualTo(DType.F32);
      assertThat(checkpoint.shape("empty")).isEqualTo(Shape.of(0, 5));
      assertThat(checkpoint.shape("s").rank()).isZero();
      assertThat(checkpoint.tensor("b").toByteArray()).isEqualTo(Arrays.copyOfRange(counting(25), 0, 12));
      assertThat(checkpoint.tensor("a").toByteArray()).isEqualTo(Arrays.copyOfRange(counting(25), 12, 24));
      assertThat(checkpoint.tensor("empty").toByteArray()).isEmpty();
      assertThat(checkpoint.tensor("s").toByteArray()).containsExactly(24);
      assertThat(checkpoint.location("a")).isEqualTo(file.toString());
      assertThat(checkpoint.fileNames()).containsEntry("a", "model.safetensors");
      StridedTensor a = checkpoint.tensor("a");
      assertThat(a.contiguousSegment().isMapped()).as("zero copy: a view of the mapping").isTrue();
      assertRejected(() -> checkpoint.tensor("nope"), "'nope'");
    }
  }

  @Test
  void tensorsAreUnusableAfterClose() {
    single(oneTensor("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"), counting(8));
    StridedTensor tensor;
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
      tensor = checkpoint.tensor("w");
    }
    assertThatThrownBy(tensor::toByteArray).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void trailingBytesAfterTheLastTensorAreRejectedAsTheReferenceReaderDoes() {
    // safetensors 0.8.0 (Rust reader): "incomplete metadata, file not fully covered" for the same bytes.
    byte[] exact = file(oneTensor("\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]"), counting(4));
    byte[] trailing = Arrays.copyOf(exact, exact.length + 8);
    Path file = write(dir.resolve("model.safetensors"), trailing);
    assertFileRejected(file, "the tensor data ends at byte " + exact.length, "the file has " + trailing.length
        + " bytes", "8 trailing bytes");
    write(file, file("{}", counting(3)));
    assertFileRejected(file, "3 trailing bytes");
    write(file, exact);
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
      assertThat(checkpoint.tensor("w").toByteArray()).containsExactly(0, 1, 2, 3);
    }
  }

  @Test
  void bytesThatBelongToNoTensorAreRejected() {
    // The reference reader rejects these as "invalid offset for tensor `x`" / "`b`".
    assertFileRejected(single("{\"x\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[4,6]}}", counting(6)),
        "tensor 'x' starts at data offset 4", "no tensor precedes it", "4 bytes belong to no tensor");
    String header = "{\"a\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]},"
        + "\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[5,7]}}";
    assertFileRejected(single(header, counting(7)), "tensor 'b' starts at data offset 5",
        "tensor 'a' ends at 2", "3 bytes belong to no tensor");
  }

  // ---- the length prefix and the header text ---------------------------------------------------------

  @Test
  void fileShorterThanTheLengthPrefix() {
    Path file = write(dir.resolve("model.safetensors"), new byte[5]);
    assertFileRejected(file, "shorter than the 8-byte header length");
  }

  @Test
  void headerLengthBeyondTheFile() {
    byte[] header = "{}      ".getBytes(StandardCharsets.US_ASCII);
    Path file = write(dir.resolve("model.safetensors"), SafetensorsBytes.raw(4096, header, new byte[0]));
    assertFileRejected(file, "header length 4096 runs beyond the end of the file");
  }

  @Test
  void absurdHeaderLengths() {
    byte[] header = "{}      ".getBytes(StandardCharsets.US_ASCII);
    for (long declared : new long[] {-1L, 1L << 62, SafetensorsFile.MAX_HEADER_BYTES + 1, 0, 1}) {
      Path file = write(dir.resolve("model.safetensors"), SafetensorsBytes.raw(declared, header, new byte[0]));
      assertFileRejected(file, "header length " + Long.toUnsignedString(declared) + " is absurd");
    }
  }

  @Test
  void headerThatIsNotJson() {
    assertFileRejected(single("{\"w\": {\"dtype\": ", new byte[0]), "not valid JSON");
  }

  @Test
  void headerWithTrailingGarbage() {
    assertFileRejected(single("{} {}", new byte[0]), "not valid JSON");
  }

  @Test
  void headerThatIsNotAnObject() {
    assertFileRejected(single("[1, 2]", new byte[0]), "does not start with '{'");
    assertFileRejected(single(" {}", new byte[0]), "does not start with '{'");
  }

  @Test
  void headerThatIsNotUtf8() {
    byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
    Path file = write(dir.resolve("model.safetensors"), SafetensorsBytes.raw(8, header, new byte[0]));
    assertFileRejected(file, "not valid UTF-8");
  }

  @Test
  void duplicateTensorNamesInOneHeader() {
    String entry = "{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}";
    assertFileRejected(single("{\"w\":" + entry + ",\"w\":" + entry + "}", counting(1)), "Duplicate field 'w'");
  }

  // ---- tensor entries --------------------------------------------------------------------------------

  @Test
  void unknownDtype() {
    assertFileRejected(single(oneTensor("\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]"), counting(1)),
        "tensor 'w'", "unknown dtype 'F4'");
  }

  @Test
  void missingOrMistypedFields() {
    assertFileRejected(single(oneTensor("\"shape\":[2],\"data_offsets\":[0,2]"), counting(2)),
        "tensor 'w'", "dtype");
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":\"2\",\"data_offsets\":[0,2]"), counting(2)),
        "tensor 'w'", "shape");
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[2.0],\"data_offsets\":[0,2]"), counting(2)),
        "tensor 'w'", "not a non-negative integer");
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[-2],\"data_offsets\":[0,2]"), counting(2)),
        "tensor 'w'", "not a non-negative integer");
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0]"), counting(2)),
        "tensor 'w'", "data_offsets must be two integers");
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2],\"x\":1"),
        counting(2)), "tensor 'w'", "unexpected key 'x'");
    assertFileRejected(single("{\"w\":[1]}", counting(2)), "tensor 'w'", "not an object");
    assertFileRejected(single("{\"__metadata__\":{\"format\":1}}", new byte[0]), "__metadata__", "format");
  }

  @Test
  void shapeTimesDtypeSizeDiffersFromTheByteRange() {
    assertFileRejected(single(oneTensor("\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]"),
        counting(24)), "tensor 'w'", "F32[2, 3] needs 24 bytes", "hold 12");
  }

  @Test
  void shapeWhoseSizeOverflows() {
    assertFileRejected(single(oneTensor("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
        + "\"data_offsets\":[0,0]"), new byte[0]), "tensor 'w'", "overflows");
    // Empty, but its row-major strides would overflow.
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[0,4294967296,4294967296],"
        + "\"data_offsets\":[0,0]"), new byte[0]), "tensor 'w'", "overflows");
  }

  @Test
  void rangeOutsideTheDataArea() {
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[6,10]"), counting(8)),
        "tensor 'w'", "outside the data area of 8 bytes");
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[3,2]"), counting(8)),
        "tensor 'w'", "not an ordered range");
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[-1,0]"), counting(8)),
        "tensor 'w'", "not an ordered range");
    assertFileRejected(single(oneTensor("\"dtype\":\"I8\",\"shape\":[1],"
        + "\"data_offsets\":[9223372036854775807,9223372036854775808]"), counting(8)), "tensor 'w'");
  }

  @Test
  void overlappingRanges() {
    String header = "{\"a\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]},"
        + "\"z\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[2,2]},"
        + "\"b\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[3,7]}}";
    assertFileRejected(single(header, counting(8)), "tensors 'a' [0, 4) and 'b' [3, 7) overlap");
  }

  // ---- sharded checkpoints ---------------------------------------------------------------------------

  private static String entry(String name, String dtype, int begin, int end) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + (end - begin) + "],\"data_offsets\":["
        + begin + "," + end + "]}";
  }

  /** A shard whose data area is exactly as long as its last entry's end (the entries tile it). */
  private void shard(String fileName, String... entries) {
    int end = 0;
    for (String entry : entries) {
      String offsets = entry.substring(entry.indexOf("\"data_offsets\":[") + "\"data_offsets\":[".length());
      end = Math.max(end, Integer.parseInt(offsets.substring(offsets.indexOf(',') + 1, offsets.indexOf(']'))));
    }
    write(dir.resolve(fileName), file("{" + String.join(",", entries) + "}", counting(end)));
  }

  private Path index(String weightMap) {
    return write(dir.resolve(SafetensorsCheckpoint.INDEX_FILE),
        ("{\"metadata\":{\"total_size\":0},\"weight_map\":{" + weightMap + "}}").getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void readsAShardedCheckpointWithMixedDtypes() {
    shard("s1.safetensors", entry("a", "I8", 0, 4), entry("b", "U8", 4, 8));
    shard("s2.safetensors", entry("c", "BOOL", 0, 16));
    index("\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s2.safetensors\"");
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
      assertThat(checkpoint.names()).containsExactlyInAnyOrder("a", "b", "c");
      assertThat(checkpoint.fileNames()).containsEntry("c", "s2.safetensors").containsEntry("a", "s1.safetensors");
      assertThat(checkpoint.tensor("b").toByteArray()).containsExactly(4, 5, 6, 7);
      assertThat(checkpoint.tensor("c").contiguousSegment().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(counting(16));
    }
  }

  @Test
  void duplicateNamesAcrossShards() {
    shard("s1.safetensors", entry("a", "I8", 0, 4));
    shard("s2.safetensors", entry("a", "I8", 0, 4));
    index("\"a\":\"s1.safetensors\",\"x\":\"s2.safetensors\"");
    assertRejected(() -> SafetensorsCheckpoint.open(dir), dir.resolve("s2.safetensors").toString(), "tensor 'a'",
        "duplicated");
    assertRejected(() -> SafetensorsCheckpoint.openFiles(dir,
        List.of(dir.resolve("s1.safetensors"), dir.resolve("s2.safetensors"))),
        dir.resolve("s2.safetensors").toString(), "tensor 'a'", "also in s1.safetensors");
  }

  @Test
  void indexNamingAMissingShard() {
    shard("s1.safetensors", entry("a", "I8", 0, 4));
    Path index = index("\"a\":\"s1.safetensors\",\"b\":\"gone.safetensors\"");
    assertRejected(() -> SafetensorsCheckpoint.open(dir), index.toString(), "'gone.safetensors'", "tensor 'b'",
        "does not exist");
  }

  @Test
  void indexNamingATensorTheShardLacks() {
    shard("s1.safetensors", entry("a", "I8", 0, 4));
    index("\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"");
    assertRejected(() -> SafetensorsCheckpoint.open(dir), dir.resolve("s1.safetensors").toString(),
        "lacks tensor 'b'");
  }

  @Test
  void shardHoldingATensorTheIndexDoesNotList() {
    shard("s1.safetensors", entry("a", "I8", 0, 4), entry("extra", "I8", 4, 5));
    index("\"a\":\"s1.safetensors\"");
    assertRejected(() -> SafetensorsCheckpoint.open(dir), dir.resolve("s1.safetensors").toString(),
        "tensor 'extra'", "not listed");
  }

  @Test
  void malformedIndexFiles() {
    shard("s1.safetensors", entry("a", "I8", 0, 4));
    Path indexFile = dir.resolve(SafetensorsCheckpoint.INDEX_FILE);
    write(indexFile, "{\"weight_map\":".getBytes(StandardCharsets.UTF_8));
    assertRejected(() -> SafetensorsCheckpoint.open(dir), indexFile.toString(), "not valid JSON");
    write(indexFile, "{\"metadata\":{}}".getBytes(StandardCharsets.UTF_8));
    assertRejected(() -> SafetensorsCheckpoint.open(dir), indexFile.toString(), "weight_map");
    index("\"a\":1");
    assertRejected(() -> SafetensorsCheckpoint.open(dir), indexFile.toString(), "'a'", "not a string");
    for (String shard : List.of("../s1.safetensors", "sub/s1.safetensors", "", "..", "a\\u0000b")) {
      index("\"a\":\"" + shard + "\"");
      assertRejected(() -> SafetensorsCheckpoint.open(dir), indexFile.toString(), "tensor 'a'",
          "not a plain file name");
    }
  }

  @Test
  void folderWithBothASingleFileAndAnIndexIsAmbiguous() {
    shard("s1.safetensors", entry("a", "I8", 0, 4));
    Path indexFile = index("\"a\":\"s1.safetensors\"");
    Path singleFile = single("{\"a\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", counting(4));
    assertRejected(() -> SafetensorsCheckpoint.open(dir), singleFile.toString(), indexFile.toString(), "ambiguous");
  }

  @Test
  void folderWithoutWeights() {
    assertThat(SafetensorsCheckpoint.isPresent(dir)).isFalse();
    assertRejected(() -> SafetensorsCheckpoint.open(dir), dir.toString(), "no model.safetensors");
  }

  @Test
  void singleFileOpensWithoutACheckpoint() {
    Path file = single(oneTensor("\"dtype\":\"I16\",\"shape\":[2,2],\"data_offsets\":[0,8]"), counting(8));
    try (Arena arena = Arena.ofConfined()) {
      SafetensorsFile opened = SafetensorsFile.open(file, arena);
      assertThat(opened.entries().get("w")).isEqualTo(new TensorInfo("w", DType.I16, Shape.of(2, 2), 0, 8));
      assertThat(opened.tensor("w").getLong(3)).isEqualTo(0x0706);
      assertRejected(() -> opened.tensor("v"), file.toString(), "'v'");
    }
    try (Arena arena = Arena.ofConfined()) {
      assertRejected(() -> SafetensorsFile.open(dir.resolve("missing.safetensors"), arena),
          "missing.safetensors", "cannot read");
    }
  }
}
