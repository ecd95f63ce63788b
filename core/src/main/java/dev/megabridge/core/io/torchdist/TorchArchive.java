package dev.megabridge.core.io.torchdist;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.ChecksummedReads;
import dev.megabridge.core.io.Crc32;
import dev.megabridge.core.io.pickle.PickleReader;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyGlobal;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyObject;
import dev.megabridge.core.io.pickle.PickleValue.PyPersistentId;
import dev.megabridge.core.io.pickle.PickleValue.PyStr;
import dev.megabridge.core.io.pickle.PickleValue.PyTuple;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.FileOrigin;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A {@code torch.save} archive read in place: our own central-directory parser (classic and zip64) over a
 * memory segment — usually a slice of a memory-mapped {@code .distcp} file — giving zero-copy access to its
 * stored records (docs/formats.md §3.7). Like {@code torch.load}, the archive's folder is the first entry's
 * first path component, offsets are taken relative to the archive start (corrected by the observed position of
 * the central directory if a writer made them absolute), and compressed records are refused. Unlike
 * {@code torch.load}, CRCs are checked (the central directory's CRC-32 of each record): {@code data.pkl} when it
 * is unpickled, a tensor's storage record as its bytes are streamed ({@link ChecksummedReads}: registered with the
 * scope the archive was opened with, or read whole at once without one), every record by {@link #verifyRecords()}.
 */
public final class TorchArchive {
  private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final long MASK32 = 0xFFFFFFFFL;

  private final String source;
  private final String directory;
  private final Map<String, MemorySegment> records;
  /** Where each record lies on disk; empty when the archive is not a mapped file's bytes. */
  private final Map<String, FileOrigin> recordOrigins;
  /** Each record's CRC-32 as the central directory states it. */
  private final Map<String, Integer> crcs;
  private final Optional<ChecksummedReads> checks;

  private TorchArchive(String source, String directory, Map<String, MemorySegment> records,
      Map<String, FileOrigin> recordOrigins, Map<String, Integer> crcs, Optional<ChecksummedReads> checks) {
    this.source = source;
    this.recordOrigins = recordOrigins;
    this.directory = directory;
    this.records = records;
    this.crcs = crcs;
    this.checks = checks;
  }

  /**
   * Parses the archive occupying all of {@code archive}; {@code source} names it in errors. Tensor storage records
   * are verified whole when a tensor is taken from them.
   */
  public static TorchArchive open(MemorySegment archive, String source) {
    return new Parser(archive, null, source).parse(Optional.empty());
  }

  /**
   * Parses the archive occupying all of {@code archive}, the mapped bytes of a file at {@code origin}; tensor storage
   * records are registered with {@code checks} and verified as their bytes are read, and tensors carry their origin.
   */
  public static TorchArchive open(MemorySegment archive, FileOrigin origin, String source,
      ChecksummedReads checks) {
    return new Parser(archive, Objects.requireNonNull(origin, "origin"), source).parse(Optional.of(checks));
  }

  public String source() {
    return source;
  }

  /** The internal folder ({@code archive} in DCP items, the file stem for {@code common.pt}). */
  public String directory() {
    return directory;
  }

  /** Record names relative to {@link #directory()}, in central-directory order. */
  public Set<String> recordNames() {
    return Collections.unmodifiableSet(records.keySet());
  }

  /** The bytes of record {@code name} (relative to the folder), as a view of the archive. */
  public Optional<MemorySegment> record(String name) {
    return Optional.ofNullable(records.get(name));
  }

  /** The archive's object: {@code data.pkl} unpickled, tensors left as references for {@link #tensor}. */
  public PickleValue loadObject() {
    if (!records.containsKey("version")) {
      throw new CheckpointFormatException(source + ": torch archive has no '" + directory + "/version' record");
    }
    MemorySegment pickle = record("data.pkl").orElseThrow(() -> new CheckpointFormatException(
        source + ": torch archive has no '" + directory + "/data.pkl' record"));
    verifyRecord("data.pkl");
    return PickleReader.read(pickle, source + " [" + directory + "/data.pkl]");
  }

  /** Verifies the CRC-32 of every record, reading each whole; returns the bytes read. */
  public long verifyRecords() {
    long bytes = 0;
    for (String name : records.keySet()) {
      verifyRecord(name);
      bytes += records.get(name).byteSize();
    }
    return bytes;
  }

  private void verifyRecord(String name) {
    int actual = Crc32.of(records.get(name));
    int expected = crcs.get(name);
    if (actual != expected) {
      throw new CheckpointFormatException(recordDescription(name) + ": CRC-32 mismatch over its "
          + records.get(name).byteSize() + " bytes: expected " + Crc32.hex(expected) + ", computed "
          + Crc32.hex(actual) + " (the file is corrupted)");
    }
  }

  private String recordDescription(String name) {
    return source + ": record '" + directory + "/" + name + "'";
  }

  /** True when {@code value} is a pickled tensor (or parameter) reference. */
  public static boolean isTensor(PickleValue value) {
    return value instanceof PyObject object && (object.isA("torch._utils", "_rebuild_tensor_v2")
        || object.isA("torch._utils", "_rebuild_tensor_v3") || object.isA("torch._utils", "_rebuild_parameter"));
  }

  /**
   * The tensor a pickled {@code _rebuild_tensor_v2/v3} (or {@code _rebuild_parameter}) call denotes, as a
   * zero-copy strided view of its storage record, honouring storage offset and strides (docs/formats.md §3.7).
   */
  public StridedTensor tensor(PickleValue reference) {
    StoredTensor stored = StoredTensor.parse(reference, source);
    String storageName = "data/" + stored.storageKey();
    MemorySegment storage = record(storageName).orElseThrow(() -> new CheckpointFormatException(
        source + ": tensor storage record '" + directory + "/data/" + stored.storageKey() + "' is missing"));
    if (checks.isPresent()) {
      checks.get().register(storage, crcs.get(storageName), recordDescription(storageName));
    } else {
      verifyRecord(storageName);
    }
    long storageBytes = stored.storageBytes();
    if (storage.byteSize() < storageBytes) {
      throw new CheckpointFormatException(source + ": storage '" + stored.storageKey() + "' has "
          + storage.byteSize() + " bytes, its pickle claims " + storageBytes);
    }
    long itemSize = stored.dtype().byteSize();
    Shape shape = stored.shape();
    if (shape.numel() > 0) {
      long lastElement = stored.storageOffset();
      for (int axis = 0; axis < shape.rank(); axis++) {
        lastElement += (shape.dim(axis) - 1) * stored.strides()[axis];
      }
      if (lastElement >= storageBytes / itemSize) {
        throw new CheckpointFormatException(source + ": tensor " + stored.dtype() + shape + " with offset "
            + stored.storageOffset() + " and strides " + Arrays.toString(stored.strides())
            + " reaches beyond its storage of " + storageBytes / itemSize + " elements");
      }
    }
    StridedTensor view = new StridedTensor(storage, stored.storageOffset() * itemSize, stored.dtype(), shape,
        stored.strides());
    FileOrigin storageOrigin = recordOrigins.get(storageName);
    return storageOrigin == null ? view : view.withOrigin(storageOrigin);
  }

  /** What a pickled tensor reference says about its storage and view. */
  record StoredTensor(String storageKey, DType dtype, long storageBytes, long storageOffset, Shape shape,
      long[] strides) {

    static StoredTensor parse(PickleValue reference, String source) {
      if (!(reference instanceof PyObject call) || !isTensor(call)) {
        throw new CheckpointFormatException(source + ": expected a tensor, found " + reference.typeName());
      }
      if (call.isA("torch._utils", "_rebuild_parameter")) {
        if (call.args().size() < 1) {
          throw new CheckpointFormatException(source + ": _rebuild_parameter without arguments");
        }
        return parse(call.args().get(0), source);
      }
      boolean v3 = call.isA("torch._utils", "_rebuild_tensor_v3");
      PyTuple args = call.args();
      if (args.size() < (v3 ? 7 : 4)) {
        throw new CheckpointFormatException(source + ": " + call.callableName() + " with " + args.size()
            + " arguments");
      }
      if (!(args.get(0) instanceof PyPersistentId(PyTuple id)) || id.size() != 5
          || !(id.get(0) instanceof PyStr(String tag)) || !tag.equals("storage")
          || !(id.get(1) instanceof PyGlobal storageClass) || !(id.get(2) instanceof PyStr(String key))
          || !(id.get(4) instanceof PyInt numel)) {
        throw new CheckpointFormatException(source + ": tensor storage id is not ('storage', class, key, "
            + "location, numel): " + args.get(0));
      }
      DType dtype;
      long storageBytes;
      if (storageClass.is("torch.storage", "UntypedStorage") || storageClass.is("torch", "UntypedStorage")) {
        if (!v3 || !(args.get(6) instanceof PyGlobal dtypeGlobal)) {
          throw new CheckpointFormatException(source + ": untyped storage without a dtype argument");
        }
        dtype = TorchDtypes.fromTorchGlobal(dtypeGlobal).orElseThrow(() -> new CheckpointFormatException(
            source + ": unsupported tensor dtype " + dtypeGlobal.qualifiedName()));
        storageBytes = longOf(numel, source, "storage size");
      } else {
        dtype = TorchDtypes.fromLegacyStorageClass(storageClass).orElseThrow(() -> new CheckpointFormatException(
            source + ": unsupported storage class " + storageClass.qualifiedName()));
        storageBytes = Math.multiplyExact(longOf(numel, source, "storage size"), dtype.byteSize());
      }
      long offset = longOf(args.get(1), source, "storage offset");
      long[] shape = longs(args.get(2), source, "size");
      long[] strides = longs(args.get(3), source, "stride");
      if (shape.length != strides.length || offset < 0 || storageBytes < 0) {
        throw new CheckpointFormatException(source + ": inconsistent tensor view: size "
            + Arrays.toString(shape) + ", stride " + Arrays.toString(strides) + ", offset " + offset);
      }
      for (long stride : strides) {
        if (stride < 0) {
          throw new CheckpointFormatException(source + ": negative tensor stride");
        }
      }
      for (long dim : shape) {
        if (dim < 0) {
          throw new CheckpointFormatException(source + ": negative tensor dimension");
        }
      }
      return new StoredTensor(key, dtype, storageBytes, offset, Shape.of(shape), strides);
    }

    private static long longOf(PickleValue value, String source, String what) {
      if (value instanceof PyInt integer && integer.fitsLong()) {
        return integer.longValue();
      }
      throw new CheckpointFormatException(source + ": tensor " + what + " is " + value + ", not an int");
    }

    static long[] longs(PickleValue value, String source, String what) {
      // torch.Size pickles as REDUCE(torch.Size, (tuple,)); torch.save writes plain tuples.
      if (value instanceof PyObject object && object.isA("torch", "Size") && object.args().size() == 1) {
        return longs(object.args().get(0), source, what);
      }
      if (!(value instanceof PyTuple tuple)) {
        throw new CheckpointFormatException(source + ": tensor " + what + " is " + value.typeName()
            + ", not a tuple");
      }
      long[] out = new long[tuple.size()];
      for (int index = 0; index < out.length; index++) {
        out[index] = longOf(tuple.get(index), source, what);
      }
      return out;
    }
  }

  /** The central-directory walk. */
  private static final class Parser {
    private final MemorySegment archive;
    private final FileOrigin origin;
    private final String source;
    private final long size;

    Parser(MemorySegment archive, FileOrigin origin, String source) {
      this.archive = archive;
      this.origin = origin;
      this.source = source;
      this.size = archive.byteSize();
    }

    TorchArchive parse(Optional<ChecksummedReads> checks) {
      long end = findEndRecord();
      long entryCount = u16(end + 10);
      long centralSize = u32(end + 12);
      long centralOffset = u32(end + 16);
      long centralEnd = end;
      long locator = end - 20;
      if (locator >= 0 && archive.get(U32, locator) == 0x07064b50) {
        long zip64End = u64(locator + 8);
        long actualZip64End = locator - 56;
        // A zip64 end record sits right before its locator; trust its observed position.
        if (actualZip64End >= 0 && archive.get(U32, actualZip64End) == 0x06064b50) {
          entryCount = u64(actualZip64End + 32);
          centralSize = u64(actualZip64End + 40);
          centralOffset = u64(actualZip64End + 48);
          centralEnd = actualZip64End;
        } else if (zip64End >= 0 && zip64End <= size - 56 && archive.get(U32, zip64End) == 0x06064b50) {
          entryCount = u64(zip64End + 32);
          centralSize = u64(zip64End + 40);
          centralOffset = u64(zip64End + 48);
          centralEnd = zip64End;
        } else {
          throw fail("zip64 locator points to no zip64 end record");
        }
      }
      if (centralSize < 0 || centralSize > centralEnd) {
        throw fail("central directory size " + centralSize + " does not fit the archive");
      }
      long centralStart = centralEnd - centralSize;
      long shift = centralStart - centralOffset;
      Map<String, MemorySegment> records = new LinkedHashMap<>();
      Map<String, FileOrigin> recordOrigins = new LinkedHashMap<>();
      Map<String, Integer> crcs = new LinkedHashMap<>();
      String directory = null;
      long position = centralStart;
      for (long index = 0; index < entryCount; index++) {
        need(position, 46, "central directory entry");
        if (archive.get(U32, position) != 0x02014b50) {
          throw fail("bad central directory signature at byte " + position);
        }
        int method = u16(position + 10);
        int crc = (int) u32(position + 16);
        long compressedSize = u32(position + 20);
        long uncompressedSize = u32(position + 24);
        int nameLength = u16(position + 28);
        int extraLength = u16(position + 30);
        int commentLength = u16(position + 32);
        long localOffset = u32(position + 42);
        need(position + 46, (long) nameLength + extraLength + commentLength, "central directory entry");
        String name = new String(archive.asSlice(position + 46, nameLength).toArray(ValueLayout.JAVA_BYTE),
            StandardCharsets.UTF_8);
        long extra = position + 46 + nameLength;
        long extraEnd = extra + extraLength;
        while (extra + 4 <= extraEnd) {
          int id = u16(extra);
          int length = u16(extra + 2);
          long field = extra + 4;
          if (field + length > extraEnd) {
            throw fail("extra field of entry '" + name + "' overruns its entry");
          }
          if (id == 0x0001) {
            long fieldEnd = field + length;
            if (uncompressedSize == MASK32 && field + 8 <= fieldEnd) {
              uncompressedSize = u64(field);
              field += 8;
            }
            if (compressedSize == MASK32 && field + 8 <= fieldEnd) {
              compressedSize = u64(field);
              field += 8;
            }
            if (localOffset == MASK32 && field + 8 <= fieldEnd) {
              localOffset = u64(field);
            }
          }
          extra += 4 + length;
        }
        position += 46L + nameLength + extraLength + commentLength;
        if (method != 0) {
          throw fail("record '" + name + "' is compressed (method " + method + "); only stored records are supported");
        }
        if (compressedSize != uncompressedSize || compressedSize < 0) {
          throw fail("stored record '" + name + "' has inconsistent sizes");
        }
        long local = localOffset + shift;
        need(local, 30, "local header of '" + name + "'");
        if (archive.get(U32, local) != 0x04034b50) {
          throw fail("bad local header signature for '" + name + "' at byte " + local);
        }
        long data = local + 30 + u16(local + 26) + u16(local + 28);
        need(data, compressedSize, "data of '" + name + "'");
        int slash = name.indexOf('/');
        if (directory == null) {
          if (slash <= 0) {
            throw fail("first record '" + name + "' is not inside a folder");
          }
          directory = name.substring(0, slash);
        }
        if (!name.startsWith(directory + "/")) {
          throw fail("record '" + name + "' is outside the archive folder '" + directory + "'");
        }
        String recordName = name.substring(directory.length() + 1);
        records.put(recordName, archive.asSlice(data, compressedSize));
        if (origin != null) {
          recordOrigins.put(recordName, origin.plus(data));
        }
        crcs.put(recordName, crc);
      }
      if (directory == null) {
        throw fail("archive has no records");
      }
      return new TorchArchive(source, directory, Collections.unmodifiableMap(records), Map.copyOf(recordOrigins),
          Map.copyOf(crcs), checks);
    }

    private long findEndRecord() {
      long lowest = Math.max(0, size - 22 - 0xFFFF);
      for (long position = size - 22; position >= lowest; position--) {
        if (archive.get(U32, position) == 0x06054b50) {
          return position;
        }
      }
      throw fail("no zip end-of-central-directory record (not a torch archive, or truncated)");
    }

    private void need(long position, long length, String what) {
      if (position < 0 || length < 0 || position > size || length > size - position) {
        throw fail(what + " at byte " + position + " (+" + length + ") lies outside the archive of " + size
            + " bytes");
      }
    }

    private int u16(long position) {
      need(position, 2, "field");
      return Short.toUnsignedInt(archive.get(U16, position));
    }

    private long u32(long position) {
      need(position, 4, "field");
      return Integer.toUnsignedLong(archive.get(U32, position));
    }

    private long u64(long position) {
      need(position, 8, "field");
      long value = archive.get(U64, position);
      if (value < 0) {
        throw fail("64-bit field at byte " + position + " is absurd");
      }
      return value;
    }

    private CheckpointFormatException fail(String message) {
      return new CheckpointFormatException(source + ": malformed torch archive: " + message);
    }
  }
}
