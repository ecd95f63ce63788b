package dev.megabridge.core.io.torchdist;

import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.io.ByteArrayOutput;
import dev.megabridge.core.io.ByteOutput;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyBool;
import dev.megabridge.core.io.pickle.PickleValue.PyGlobal;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyObject;
import dev.megabridge.core.io.pickle.PickleValue.PyPersistentId;
import dev.megabridge.core.io.pickle.PickleValue.PyStr;
import dev.megabridge.core.io.pickle.PickleValue.PyTuple;
import dev.megabridge.core.io.pickle.PickleWriter;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;

/**
 * Writes one archive in the format of {@code torch.save} (docs/formats.md §3.7): an uncompressed zip whose records are
 * {@code <dir>/data.pkl}, {@code .format_version}, {@code .storage_alignment}, {@code byteorder},
 * {@code data/<k>} (one per storage), {@code version}, {@code .data/serialization_id}; each record's data
 * starts at a multiple of 64 bytes from the archive start (an {@code FB} padding extra field), sizes and
 * CRC-32 follow the data in a descriptor, and a zip64 end record is always present (zip64 entry fields when
 * a record or offset passes 4 GiB). Tensor bytes are streamed from the lazy {@link Tensor}s.
 *
 * <p>Usage: {@link #addTensor} for each tensor inside the object (it returns the pickled reference to place
 * in the object tree), then one {@link #write}.
 */
public final class TorchArchiveWriter {
  static final int ALIGNMENT = 64;
  private static final long ZIP32_LIMIT = 0xFFFFFFFFL;
  private static final int LOCAL_HEADER = 0x04034b50;
  private static final int DATA_DESCRIPTOR = 0x08074b50;
  private static final int CENTRAL_HEADER = 0x02014b50;
  private static final int ZIP64_END = 0x06064b50;
  private static final int ZIP64_LOCATOR = 0x07064b50;
  private static final int END = 0x06054b50;
  /** General purpose flags: bit 3 (sizes in the data descriptor) and bit 11 (UTF-8 names), as torch. */
  private static final int FLAGS = 0x0808;
  private static final int PADDING_EXTRA_ID = 0x4246;
  private static final int ZIP64_EXTRA_ID = 0x0001;

  private final String directory;
  private final long zip64Threshold;
  private final List<Tensor> storages = new ArrayList<>();

  /** {@code directory} is the archive's internal folder: {@code archive} for DCP items, the stem for files. */
  public TorchArchiveWriter(String directory) {
    this(directory, ZIP32_LIMIT);
  }

  /**
   * {@code zip64Threshold}: sizes and offsets from this value on use zip64 entry fields. Zip requires it
   * at 4 GiB − 1; a lower value writes the zip64 forms for small archives (tests of both readers).
   */
  TorchArchiveWriter(String directory, long zip64Threshold) {
    if (directory.isEmpty() || directory.contains("/")) {
      throw new InternalException("bad torch archive directory name '" + directory + "'");
    }
    if (zip64Threshold < 0 || zip64Threshold > ZIP32_LIMIT) {
      throw new InternalException("zip64 threshold " + zip64Threshold + " outside [0, 2^32 - 1]");
    }
    this.directory = directory;
    this.zip64Threshold = zip64Threshold;
  }

  /**
   * Registers {@code tensor} as storage {@code data/<n>} and returns the value torch pickles for it:
   * {@code _rebuild_tensor_v2(persistent storage id, 0, size, contiguous stride, False, OrderedDict())}, or
   * {@code _rebuild_tensor_v3(…, dtype)} over an untyped storage for dtypes without a legacy storage class.
   */
  public PyObject addTensor(Tensor tensor) {
    String key = Integer.toString(storages.size());
    storages.add(tensor);
    DType dtype = tensor.dtype();
    long[] shape = tensor.shape().toArray();
    long[] stride = tensor.shape().contiguousStrides();
    PyGlobal hooks = new PyGlobal("collections", "OrderedDict");
    var legacy = TorchDtypes.legacyStorageClass(dtype);
    if (legacy.isPresent()) {
      PyTuple id = PyTuple.of(new PyStr("storage"), new PyGlobal("torch", legacy.get()), new PyStr(key),
          new PyStr("cpu"), PyInt.of(tensor.numel()));
      return PyObject.reduce(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), new PyPersistentId(id),
          PyInt.of(0), intTuple(shape), intTuple(stride), PyBool.FALSE, PyObject.reduce(hooks));
    }
    PyTuple id = PyTuple.of(new PyStr("storage"), new PyGlobal("torch.storage", "UntypedStorage"),
        new PyStr(key), new PyStr("cpu"), PyInt.of(tensor.byteSize()));
    return PyObject.reduce(new PyGlobal("torch._utils", "_rebuild_tensor_v3"), new PyPersistentId(id),
        PyInt.of(0), intTuple(shape), intTuple(stride), PyBool.FALSE, PyObject.reduce(hooks),
        TorchDtypes.dtypeGlobal(dtype));
  }

  static PyTuple intTuple(long[] values) {
    return new PyTuple(Arrays.stream(values).mapToObj(value -> (PickleValue) PyInt.of(value)).toList());
  }

  /** The whole archive as bytes (small objects: common state, extra state). */
  public byte[] toBytes(PickleValue root) {
    ByteArrayOutput out = new ByteArrayOutput();
    write(out, root);
    return out.toByteArray();
  }

  /** Writes the archive at the sink's current position; returns the archive's length in bytes. */
  long write(ByteOutput sink, PickleValue root) {
    Archive archive = new Archive(sink);
    archive.record("data.pkl", PickleWriter.write(root));
    archive.record(".format_version", ascii("1"));
    archive.record(".storage_alignment", ascii(Integer.toString(ALIGNMENT)));
    archive.record("byteorder", ascii("little"));
    for (int index = 0; index < storages.size(); index++) {
      archive.tensorRecord("data/" + index, storages.get(index));
    }
    archive.record("version", ascii("3\n"));
    // torch writes a random 40-digit id; a digest of the records so far keeps our output reproducible.
    archive.record(".data/serialization_id", ascii(String.format("%040d", archive.runningCrc.getValue())));
    return archive.finish();
  }

  private static byte[] ascii(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }

  private record CentralEntry(byte[] name, long crc, long size, long localHeaderOffset) {}

  /** One archive being written: positions are relative to its first byte (torch's convention). */
  private final class Archive {
    private final ByteOutput sink;
    private final long start;
    private final List<CentralEntry> entries = new ArrayList<>();
    private final CRC32 runningCrc = new CRC32();

    Archive(ByteOutput sink) {
      this.sink = sink;
      this.start = sink.position();
    }

    private long here() {
      return sink.position() - start;
    }

    void record(String name, byte[] data) {
      CRC32 crc = new CRC32();
      crc.update(data);
      long offset = localHeader(name, data.length);
      sink.write(data);
      finishRecord(name, crc.getValue(), data.length, offset);
    }

    void tensorRecord(String name, Tensor tensor) {
      long size = tensor.byteSize();
      long offset = localHeader(name, size);
      CRC32 crc = new CRC32();
      long[] written = {0};
      tensor.forEachRun((segment, runOffset, runLength, origin) -> {
        sink.write(segment, runOffset, runLength, crc, origin);
        written[0] += runLength;
      });
      if (written[0] != size) {
        throw new InternalException("tensor " + tensor + " streamed " + written[0] + " bytes instead of " + size);
      }
      sink.completeChecksum();
      finishRecord(name, crc.getValue(), size, offset);
    }

    /** Writes the local header (sizes deferred to the descriptor); returns its offset. */
    private long localHeader(String name, long size) {
      byte[] fileName = (directory + "/" + name).getBytes(StandardCharsets.UTF_8);
      long offset = here();
      boolean zip64 = size >= zip64Threshold;
      int zip64Length = zip64 ? 4 + 16 : 0;
      long dataStartWithoutPadding = offset + 30 + fileName.length + zip64Length + 4;
      int padding = Math.floorMod(-dataStartWithoutPadding, ALIGNMENT);
      ByteBuffer header = little(30 + fileName.length + zip64Length + 4 + padding);
      header.putInt(LOCAL_HEADER).putShort((short) (zip64 ? 45 : 0)).putShort((short) FLAGS)
          .putShort((short) 0).putShort((short) 0).putShort((short) 0)
          .putInt(0).putInt(zip64 ? -1 : 0).putInt(zip64 ? -1 : 0)
          .putShort((short) fileName.length).putShort((short) (zip64Length + 4 + padding)).put(fileName);
      if (zip64) {
        header.putShort((short) ZIP64_EXTRA_ID).putShort((short) 16).putLong(size).putLong(0);
      }
      header.putShort((short) PADDING_EXTRA_ID).putShort((short) padding);
      for (int index = 0; index < padding; index++) {
        header.put((byte) 'Z');
      }
      sink.write(header.array());
      return offset;
    }

    private void finishRecord(String name, long crc, long size, long offset) {
      ByteBuffer descriptor;
      if (size >= zip64Threshold) {
        descriptor = little(24).putInt(DATA_DESCRIPTOR).putInt((int) crc).putLong(size).putLong(size);
      } else {
        descriptor = little(16).putInt(DATA_DESCRIPTOR).putInt((int) crc).putInt((int) size).putInt((int) size);
      }
      sink.write(descriptor.array());
      runningCrc.update(little(8).putLong(crc).array());
      entries.add(new CentralEntry((directory + "/" + name).getBytes(StandardCharsets.UTF_8), crc, size, offset));
    }

    /** Central directory, zip64 end record and locator, classic end record; returns the archive length. */
    long finish() {
      long centralStart = here();
      for (CentralEntry entry : entries) {
        boolean bigSize = entry.size() >= zip64Threshold;
        boolean bigOffset = entry.localHeaderOffset() >= zip64Threshold;
        int extraLength = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
        ByteBuffer header = little(46 + entry.name().length + extraLength);
        header.putInt(CENTRAL_HEADER).putShort((short) (extraLength > 0 ? 45 : 0))
            .putShort((short) (extraLength > 0 ? 45 : 0)).putShort((short) FLAGS).putShort((short) 0)
            .putShort((short) 0).putShort((short) 0).putInt((int) entry.crc())
            .putInt(bigSize ? -1 : (int) entry.size()).putInt(bigSize ? -1 : (int) entry.size())
            .putShort((short) entry.name().length).putShort((short) extraLength).putShort((short) 0)
            .putShort((short) 0).putShort((short) 0).putInt(0)
            .putInt(bigOffset ? -1 : (int) entry.localHeaderOffset()).put(entry.name());
        if (extraLength > 0) {
          header.putShort((short) ZIP64_EXTRA_ID).putShort((short) (extraLength - 4));
          if (bigSize) {
            header.putLong(entry.size()).putLong(entry.size());
          }
          if (bigOffset) {
            header.putLong(entry.localHeaderOffset());
          }
        }
        sink.write(header.array());
      }
      long centralSize = here() - centralStart;
      long zip64EndOffset = here();
      int count = entries.size();
      sink.write(little(56).putInt(ZIP64_END).putLong(44).putShort((short) 45).putShort((short) 45)
          .putInt(0).putInt(0).putLong(count).putLong(count).putLong(centralSize).putLong(centralStart).array());
      sink.write(little(20).putInt(ZIP64_LOCATOR).putInt(0).putLong(zip64EndOffset).putInt(1).array());
      sink.write(little(22).putInt(END).putShort((short) 0).putShort((short) 0)
          .putShort((short) Math.min(count, 0xFFFF)).putShort((short) Math.min(count, 0xFFFF))
          .putInt((int) Math.min(centralSize, ZIP32_LIMIT)).putInt((int) Math.min(centralStart, ZIP32_LIMIT))
          .putShort((short) 0).array());
      return here();
    }
  }

  private static ByteBuffer little(int size) {
    return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
  }
}
