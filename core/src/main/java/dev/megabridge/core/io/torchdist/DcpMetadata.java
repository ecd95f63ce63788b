package dev.megabridge.core.io.torchdist;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.SafeNames;
import dev.megabridge.core.io.pickle.PickleReader;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyBool;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyGlobal;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.io.pickle.PickleValue.PyNone;
import dev.megabridge.core.io.pickle.PickleValue.PyObject;
import dev.megabridge.core.io.pickle.PickleValue.PyStr;
import dev.megabridge.core.io.pickle.PickleValue.PyTuple;
import dev.megabridge.core.io.pickle.PickleWriter;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The content of a DCP {@code .metadata} file that a reader or writer needs (docs/formats.md §3.5): what each key is
 * (tensor with global shape, dtype and chunks, or bytes) and where each chunk/bytes item lives. Decoding is
 * tolerant (any root class with these attributes, extra attributes such as {@code mcore_data} or
 * {@code all_local_plans}, both {@code TensorProperties} encodings, optional {@code storage_meta}); encoding
 * writes exactly the minimal protocol-2 form of docs/formats.md §3.5.
 *
 * @param stateDictMetadata every key, in file order
 * @param storageData where each chunk ({@link Index} with offset) or bytes item (without) is stored
 */
public record DcpMetadata(Map<String, StorageMetadata> stateDictMetadata, Map<Index, Location> storageData) {

  static final String DCP_MODULE = "torch.distributed.checkpoint.metadata";
  static final String DCP_VERSION = "1.0.0";

  public DcpMetadata {
    stateDictMetadata = Collections.unmodifiableMap(new LinkedHashMap<>(stateDictMetadata));
    storageData = Collections.unmodifiableMap(new LinkedHashMap<>(storageData));
  }

  /** {@code TensorStorageMetadata} or {@code BytesStorageMetadata}. */
  public sealed interface StorageMetadata permits TensorStorage, BytesStorage {}

  /** A tensor: global shape, dtype and the chunks that tile it. */
  public record TensorStorage(DType dtype, Shape size, List<Chunk> chunks) implements StorageMetadata {
    public TensorStorage {
      chunks = List.copyOf(chunks);
    }
  }

  /** A bytes item (a Megatron ShardedObject or a plain DCP non-tensor value). */
  public record BytesStorage() implements StorageMetadata {}

  /** {@code ChunkStorageMetadata}: the chunk's origin in the global tensor and its shape. */
  public record Chunk(List<Long> offsets, Shape sizes) {
    public Chunk {
      offsets = List.copyOf(offsets);
      if (offsets.size() != sizes.rank()) {
        throw new IllegalArgumentException("chunk offsets " + offsets + " vs sizes " + sizes);
      }
    }
  }

  /**
   * {@code MetadataIndex} as DCP compares it: fqn plus the chunk offset (absent for bytes items). The
   * {@code index} lookup hint is not part of equality and is not kept.
   */
  public record Index(String fqn, Optional<List<Long>> offset) {
    public Index {
      Objects.requireNonNull(fqn);
      offset = offset.map(List::copyOf);
    }

    public static Index ofChunk(String fqn, List<Long> offset) {
      return new Index(fqn, Optional.of(offset));
    }

    public static Index ofBytes(String fqn) {
      return new Index(fqn, Optional.empty());
    }
  }

  /** {@code _StorageInfo}: the byte range {@code [offset, offset + length)} of {@code relativePath}. */
  public record Location(String relativePath, long offset, long length) {}

  // ------------------------------------------------------------------------------------------- encoding

  /** The {@code .metadata} pickle: protocol 2, no {@code storage_meta}, {@code version = "1.0.0"}. */
  public byte[] encode() {
    Map<String, PickleValue> keyEntries = new LinkedHashMap<>();
    stateDictMetadata.forEach((key, metadata) -> keyEntries.put(key, switch (metadata) {
      case TensorStorage tensor -> encodeTensor(tensor);
      case BytesStorage ignored -> new PyObject(dcp("BytesStorageMetadata"), PyObject.Construction.NEWOBJ,
          PyTuple.EMPTY, null);
    }));
    List<Map.Entry<PickleValue, PickleValue>> storage = new ArrayList<>();
    storageData.forEach((index, location) -> storage.add(Map.entry(encodeIndex(index), encodeLocation(location))));
    Map<String, PickleValue> fields = new LinkedHashMap<>();
    fields.put("state_dict_metadata", PyDict.ofStrings(keyEntries));
    fields.put("planner_data", PyNone.INSTANCE);
    fields.put("storage_data", new PyDict(storage));
    fields.put("version", new PyStr(DCP_VERSION));
    return PickleWriter.write(PyObject.newWithState(dcp("Metadata"), PyDict.ofStrings(fields)));
  }

  private static PyGlobal dcp(String name) {
    return new PyGlobal(DCP_MODULE, name);
  }

  private static PyObject torchSize(List<Long> dims) {
    return PyObject.reduce(new PyGlobal("torch", "Size"),
        TorchArchiveWriter.intTuple(dims.stream().mapToLong(Long::longValue).toArray()));
  }

  private static PyObject encodeTensor(TensorStorage tensor) {
    // TensorProperties.__getstate__: (dtype, layout, requires_grad, _MEM_FORMAT_ENCODING, pin_memory).
    PyTuple properties = PyTuple.of(TorchDtypes.dtypeGlobal(tensor.dtype()),
        PyObject.reduce(new PyGlobal("torch.serialization", "_get_layout"), new PyStr("torch.strided")),
        PyBool.FALSE,
        PyObject.reduce(dcp("_MEM_FORMAT_ENCODING"), PyInt.of(0)),
        PyBool.FALSE);
    List<PickleValue> chunks = tensor.chunks().stream()
        .map(chunk -> (PickleValue) PyObject.newWithState(dcp("ChunkStorageMetadata"), PyDict.ofStrings(
            orderedOf("offsets", torchSize(chunk.offsets()), "sizes", torchSize(chunk.sizes().toList())))))
        .toList();
    Map<String, PickleValue> fields = new LinkedHashMap<>();
    fields.put("properties", PyObject.newWithState(dcp("TensorProperties"), properties));
    fields.put("size", torchSize(tensor.size().toList()));
    fields.put("chunks", new PyList(chunks));
    return PyObject.newWithState(dcp("TensorStorageMetadata"), PyDict.ofStrings(fields));
  }

  private static PyObject encodeIndex(Index index) {
    Map<String, PickleValue> fields = new LinkedHashMap<>();
    fields.put("fqn", new PyStr(index.fqn()));
    fields.put("index", PyNone.INSTANCE);
    index.offset().ifPresent(offset -> fields.put("offset", torchSize(offset)));
    return PyObject.newWithState(dcp("MetadataIndex"), PyDict.ofStrings(fields));
  }

  private static PyObject encodeLocation(Location location) {
    return PyObject.newWithState(new PyGlobal("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
        PyDict.ofStrings(orderedOf("relative_path", new PyStr(location.relativePath()),
            "offset", PyInt.of(location.offset()), "length", PyInt.of(location.length()))));
  }

  private static Map<String, PickleValue> orderedOf(Object... keysAndValues) {
    Map<String, PickleValue> map = new LinkedHashMap<>();
    for (int index = 0; index < keysAndValues.length; index += 2) {
      map.put((String) keysAndValues[index], (PickleValue) keysAndValues[index + 1]);
    }
    return map;
  }

  // ------------------------------------------------------------------------------------------- decoding

  /** Parses a {@code .metadata} file's bytes; {@code source} names the file in errors. */
  public static DcpMetadata decode(MemorySegment bytes, String source) {
    PickleValue root = PickleReader.read(bytes, source);
    Decoder decoder = new Decoder(source);
    PyObject metadata = decoder.object(root, "the root object");
    PyDict keys = decoder.dict(decoder.attribute(metadata, "state_dict_metadata"), "state_dict_metadata");
    Map<String, StorageMetadata> stateDictMetadata = new LinkedHashMap<>();
    for (Map.Entry<PickleValue, PickleValue> entry : keys.entries()) {
      String key = decoder.string(entry.getKey(), "a state_dict_metadata key");
      stateDictMetadata.put(key, decoder.storageMetadata(key, entry.getValue()));
    }
    PyDict storage = decoder.dict(decoder.attribute(metadata, "storage_data"), "storage_data");
    Map<Index, Location> storageData = new LinkedHashMap<>();
    for (Map.Entry<PickleValue, PickleValue> entry : storage.entries()) {
      Index index = decoder.index(entry.getKey());
      storageData.put(index, decoder.location(index, entry.getValue()));
    }
    return new DcpMetadata(stateDictMetadata, storageData);
  }

  private record Decoder(String source) {

    StorageMetadata storageMetadata(String key, PickleValue value) {
      PyObject object = object(value, "the metadata of '" + key + "'");
      if (object.callableName().endsWith("BytesStorageMetadata")) {
        return new BytesStorage();
      }
      if (!object.callableName().endsWith("TensorStorageMetadata")) {
        throw fail("'" + key + "' has unknown storage metadata " + object.callableName());
      }
      PyObject properties = object(attribute(object, "properties"), "the properties of '" + key + "'");
      PickleValue dtypeValue = switch (properties.state().orElse(PyNone.INSTANCE)) {
        case PyTuple state when state.size() >= 1 -> state.get(0);
        case PyDict state -> state.get("dtype").orElseThrow(() -> fail("'" + key + "' properties have no dtype"));
        default -> throw fail("'" + key + "' has unreadable TensorProperties " + properties);
      };
      if (!(dtypeValue instanceof PyGlobal dtypeGlobal)) {
        throw fail("'" + key + "' has dtype " + dtypeValue.typeName());
      }
      DType dtype = TorchDtypes.fromTorchGlobal(dtypeGlobal).orElseThrow(
          () -> fail("'" + key + "' has unsupported dtype " + dtypeGlobal.qualifiedName()));
      Shape size = Shape.of(longs(attribute(object, "size"), "the size of '" + key + "'"));
      if (!(attribute(object, "chunks") instanceof PyList chunkList)) {
        throw fail("'" + key + "' chunks are not a list");
      }
      List<Chunk> chunks = new ArrayList<>();
      for (PickleValue chunkValue : chunkList.items()) {
        PyObject chunk = object(chunkValue, "a chunk of '" + key + "'");
        List<Long> offsets = toList(longs(attribute(chunk, "offsets"), "chunk offsets of '" + key + "'"));
        Shape sizes = Shape.of(longs(attribute(chunk, "sizes"), "chunk sizes of '" + key + "'"));
        if (offsets.size() != size.rank() || sizes.rank() != size.rank()) {
          throw fail("'" + key + "' of rank " + size.rank() + " has a chunk at " + offsets + " of size " + sizes);
        }
        chunks.add(new Chunk(offsets, sizes));
      }
      return new TensorStorage(dtype, size, chunks);
    }

    Index index(PickleValue value) {
      PyObject object = object(value, "a storage_data key");
      String fqn = string(attribute(object, "fqn"), "MetadataIndex.fqn");
      PickleValue offset = object.attribute("offset").orElse(PyNone.INSTANCE);
      if (offset instanceof PyNone) {
        return Index.ofBytes(fqn);
      }
      return Index.ofChunk(fqn, toList(longs(offset, "the MetadataIndex offset of '" + fqn + "'")));
    }

    Location location(Index index, PickleValue value) {
      PyObject object = object(value, "the storage info of '" + index.fqn() + "'");
      object.attribute("transform_descriptors").ifPresent(transforms -> {
        if (transforms instanceof PyList list && list.size() > 0) {
          throw fail("'" + index.fqn() + "' is stored with transforms " + list.items() + " (unsupported)");
        }
      });
      String path = string(attribute(object, "relative_path"), "_StorageInfo.relative_path");
      if (!SafeNames.isPlainName(path)) {
        throw fail("'" + index.fqn() + "' is stored in an unsafe relative path '" + path + "'");
      }
      long offset = integer(attribute(object, "offset"), "_StorageInfo.offset");
      long length = integer(attribute(object, "length"), "_StorageInfo.length");
      if (offset < 0 || length < 0) {
        throw fail("'" + index.fqn() + "' has a negative storage range");
      }
      return new Location(path, offset, length);
    }

    PickleValue attribute(PyObject object, String name) {
      return object.attribute(name).orElseThrow(
          () -> fail(object.callableName() + " has no attribute '" + name + "'"));
    }

    PyObject object(PickleValue value, String what) {
      if (value instanceof PyObject object) {
        return object;
      }
      throw fail(what + " is " + value.typeName() + ", not an object");
    }

    PyDict dict(PickleValue value, String what) {
      if (value instanceof PyDict dict) {
        return dict;
      }
      throw fail(what + " is " + value.typeName() + ", not a dict");
    }

    String string(PickleValue value, String what) {
      if (value instanceof PyStr(String text)) {
        return text;
      }
      throw fail(what + " is " + value.typeName() + ", not a str");
    }

    long integer(PickleValue value, String what) {
      if (value instanceof PyInt integer && integer.fitsLong()) {
        return integer.longValue();
      }
      throw fail(what + " is " + value + ", not an int");
    }

    long[] longs(PickleValue value, String what) {
      long[] values = TorchArchive.StoredTensor.longs(value, source, what);
      for (long element : values) {
        if (element < 0) {
          throw fail(what + " has a negative entry");
        }
      }
      return values;
    }

    CheckpointFormatException fail(String message) {
      return new CheckpointFormatException(source + ": " + message);
    }
  }

  private static List<Long> toList(long[] values) {
    return Arrays.stream(values).boxed().toList();
  }
}
