package dev.megabridge.core.io.pickle;

import dev.megabridge.core.error.InternalException;
import dev.megabridge.core.io.pickle.PickleValue.PyBool;
import dev.megabridge.core.io.pickle.PickleValue.PyBytes;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyFloat;
import dev.megabridge.core.io.pickle.PickleValue.PyGlobal;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.io.pickle.PickleValue.PyNone;
import dev.megabridge.core.io.pickle.PickleValue.PyObject;
import dev.megabridge.core.io.pickle.PickleValue.PyPersistentId;
import dev.megabridge.core.io.pickle.PickleValue.PySet;
import dev.megabridge.core.io.pickle.PickleValue.PyStr;
import dev.megabridge.core.io.pickle.PickleValue.PyTuple;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes {@link PickleValue}s as protocol-2 pickles (torch's {@code DEFAULT_PROTOCOL}; accepted by DCP and
 * Megatron, docs/formats.md §3.6). Strings and globals are memoised by value (BINPUT/BINGET), which keeps a
 * {@code .metadata} with ~10⁵ chunks small. Protocol 2 has no bytes or set opcodes, so bytes are written as
 * {@code _codecs.encode(latin1 str, 'latin1')} and sets as {@code builtins.set([...])}, as CPython does.
 */
public final class PickleWriter {

  /** CPython's batch size for APPENDS/SETITEMS. */
  private static final int BATCH = 1000;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final Map<PickleValue, Integer> memo = new HashMap<>();

  private PickleWriter() {}

  /** The complete pickle (PROTO 2 … STOP) of {@code root}. */
  public static byte[] write(PickleValue root) {
    PickleWriter writer = new PickleWriter();
    writer.out.write(Opcodes.PROTO);
    writer.out.write(2);
    writer.value(root);
    writer.out.write(Opcodes.STOP);
    return writer.out.toByteArray();
  }

  private void value(PickleValue value) {
    switch (value) {
      case PyNone ignored -> out.write(Opcodes.NONE);
      case PyBool bool -> out.write(bool.value() ? Opcodes.NEWTRUE : Opcodes.NEWFALSE);
      case PyInt integer -> integer(integer.value());
      case PyFloat number -> {
        out.write(Opcodes.BINFLOAT);
        long bits = Double.doubleToRawLongBits(number.value());
        for (int shift = 56; shift >= 0; shift -= 8) {
          out.write((int) (bits >>> shift));
        }
      }
      case PyStr string -> memoised(string, () -> {
        byte[] utf8 = string.value().getBytes(StandardCharsets.UTF_8);
        out.write(Opcodes.BINUNICODE);
        u32(utf8.length);
        out.writeBytes(utf8);
      });
      case PyBytes bytes -> {
        global(new PyGlobal("_codecs", "encode"));
        value(new PyStr(new String(bytes.value(), StandardCharsets.ISO_8859_1)));
        value(new PyStr("latin1"));
        out.write(Opcodes.TUPLE2);
        out.write(Opcodes.REDUCE);
      }
      case PyTuple tuple -> tuple(tuple.items());
      case PyList list -> {
        out.write(Opcodes.EMPTY_LIST);
        appends(list.items());
      }
      case PyDict dict -> {
        out.write(Opcodes.EMPTY_DICT);
        setItems(dict);
      }
      case PySet set -> {
        global(new PyGlobal("builtins", set.frozen() ? "frozenset" : "set"));
        out.write(Opcodes.EMPTY_LIST);
        appends(set.items());
        out.write(Opcodes.TUPLE1);
        out.write(Opcodes.REDUCE);
      }
      case PyGlobal global -> global(global);
      case PyPersistentId persistent -> {
        value(persistent.id());
        out.write(Opcodes.BINPERSID);
      }
      case PyObject object -> object(object);
    }
  }

  private void object(PyObject object) {
    value(object.callable());
    tuple(object.args().items());
    switch (object.construction()) {
      case REDUCE -> {
        if (object.kwargs().size() > 0) {
          throw new InternalException("a REDUCE call with keyword arguments cannot be pickled: " + object);
        }
        out.write(Opcodes.REDUCE);
      }
      case NEWOBJ -> {
        if (object.kwargs().size() > 0) {
          throw new InternalException("NEWOBJ with keyword arguments needs protocol 4: " + object);
        }
        out.write(Opcodes.NEWOBJ);
      }
    }
    appends(object.listItems());
    setItems(object.dictItems());
    if (object.state().isPresent()) {
      value(object.state().get());
      out.write(Opcodes.BUILD);
    }
  }

  private void global(PyGlobal global) {
    memoised(global, () -> {
      out.write(Opcodes.GLOBAL);
      out.writeBytes((global.module() + "\n" + global.name() + "\n").getBytes(StandardCharsets.UTF_8));
    });
  }

  /** Writes {@code body} once and memoises its result; later occurrences are a memo GET. */
  private void memoised(PickleValue key, Runnable body) {
    Integer index = memo.get(key);
    if (index != null) {
      if (index < 256) {
        out.write(Opcodes.BINGET);
        out.write(index);
      } else {
        out.write(Opcodes.LONG_BINGET);
        u32(index);
      }
      return;
    }
    body.run();
    int next = memo.size();
    memo.put(key, next);
    if (next < 256) {
      out.write(Opcodes.BINPUT);
      out.write(next);
    } else {
      out.write(Opcodes.LONG_BINPUT);
      u32(next);
    }
  }

  private void tuple(List<PickleValue> items) {
    switch (items.size()) {
      case 0 -> out.write(Opcodes.EMPTY_TUPLE);
      case 1 -> {
        value(items.get(0));
        out.write(Opcodes.TUPLE1);
      }
      case 2 -> {
        value(items.get(0));
        value(items.get(1));
        out.write(Opcodes.TUPLE2);
      }
      case 3 -> {
        value(items.get(0));
        value(items.get(1));
        value(items.get(2));
        out.write(Opcodes.TUPLE3);
      }
      default -> {
        out.write(Opcodes.MARK);
        items.forEach(this::value);
        out.write(Opcodes.TUPLE);
      }
    }
  }

  private void appends(List<PickleValue> items) {
    for (int start = 0; start < items.size(); start += BATCH) {
      out.write(Opcodes.MARK);
      items.subList(start, Math.min(items.size(), start + BATCH)).forEach(this::value);
      out.write(Opcodes.APPENDS);
    }
  }

  private void setItems(PyDict dict) {
    List<Map.Entry<PickleValue, PickleValue>> entries = dict.entries();
    for (int start = 0; start < entries.size(); start += BATCH) {
      out.write(Opcodes.MARK);
      for (Map.Entry<PickleValue, PickleValue> entry : entries.subList(start, Math.min(entries.size(), start + BATCH))) {
        value(entry.getKey());
        value(entry.getValue());
      }
      out.write(Opcodes.SETITEMS);
    }
  }

  private void integer(BigInteger value) {
    if (value.signum() >= 0 && value.bitLength() <= 8) {
      out.write(Opcodes.BININT1);
      out.write(value.intValue());
    } else if (value.signum() >= 0 && value.bitLength() <= 16) {
      out.write(Opcodes.BININT2);
      out.write(value.intValue());
      out.write(value.intValue() >>> 8);
    } else if (value.bitLength() <= 31) {
      out.write(Opcodes.BININT);
      u32(value.intValue());
    } else {
      // Minimal two's-complement, little-endian (pickle's encode_long).
      byte[] bigEndian = value.toByteArray();
      if (bigEndian.length < 256) {
        out.write(Opcodes.LONG1);
        out.write(bigEndian.length);
      } else {
        out.write(Opcodes.LONG4);
        u32(bigEndian.length);
      }
      for (int index = bigEndian.length - 1; index >= 0; index--) {
        out.write(bigEndian[index]);
      }
    }
  }

  private void u32(int value) {
    out.write(value);
    out.write(value >>> 8);
    out.write(value >>> 16);
    out.write(value >>> 24);
  }
}
