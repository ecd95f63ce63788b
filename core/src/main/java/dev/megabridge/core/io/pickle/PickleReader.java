package dev.megabridge.core.io.pickle;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.pickle.PickleValue.PyBool;
import dev.megabridge.core.io.pickle.PickleValue.PyBytes;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyFloat;
import dev.megabridge.core.io.pickle.PickleValue.PyGlobal;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyList;
import dev.megabridge.core.io.pickle.PickleValue.PyNone;
import dev.megabridge.core.io.pickle.PickleValue.PyObject;
import dev.megabridge.core.io.pickle.PickleValue.PyObject.Construction;
import dev.megabridge.core.io.pickle.PickleValue.PyPersistentId;
import dev.megabridge.core.io.pickle.PickleValue.PySet;
import dev.megabridge.core.io.pickle.PickleValue.PyStr;
import dev.megabridge.core.io.pickle.PickleValue.PyTuple;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A generic pickle virtual machine for protocols 0–5 (every opcode of CPython's {@code pickletools} except
 * the extension registry and out-of-band buffers, which no checkpoint uses). It imports nothing: globals
 * stay {@link PyGlobal} references and calls become {@link PyObject}s, so arbitrary classes load
 * (docs/formats.md §3.6). A few reductions that are really built-in values are folded into them:
 * {@code OrderedDict()} → dict, {@code set(list)}/{@code frozenset(list)} → set,
 * {@code _codecs.encode(str, 'latin1')} and {@code bytes()} → bytes (how protocol 2 spells bytes),
 * {@code bytearray(...)} → bytes, and protocol 0's {@code copyreg._reconstructor(cls, object, None)} → the same
 * object NEWOBJ would create.
 *
 * <p>Every malformed input (truncation, unknown opcode, stack misuse, bad memo reference, oversized
 * length) raises {@link CheckpointFormatException} naming the source and the byte position.
 */
public final class PickleReader {

  private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfDouble F64_BIG = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

  /** Stack marker pushed by MARK; never escapes the VM. */
  private static final PickleValue MARK_SENTINEL = new PyGlobal("<mark>", "<mark>");

  private final MemorySegment data;
  private final String source;
  private long position;
  private final List<PickleValue> stack = new ArrayList<>();
  private final List<Integer> marks = new ArrayList<>();
  private final Map<Long, PickleValue> memo = new HashMap<>();

  private PickleReader(MemorySegment data, String source) {
    this.data = data;
    this.source = source;
  }

  /** Reads one pickle from the start of {@code data}; {@code source} names the file for errors. */
  public static PickleValue read(MemorySegment data, String source) {
    PickleReader reader = new PickleReader(data, source);
    try {
      return reader.run();
    } catch (StackOverflowError e) {
      throw new CheckpointFormatException(source + ": pickle nests too deeply or references itself as a key");
    }
  }

  public static PickleValue read(byte[] data, String source) {
    return read(MemorySegment.ofArray(data), source);
  }

  private PickleValue run() {
    while (true) {
      long opcodePosition = position;
      int opcode = u8();
      switch (opcode) {
        case Opcodes.PROTO -> {
          int protocol = u8();
          if (protocol > 5) {
            throw fail(opcodePosition, "unsupported pickle protocol " + protocol);
          }
        }
        case Opcodes.FRAME -> readLong64("frame length");
        case Opcodes.STOP -> {
          if (stack.size() != 1 || !marks.isEmpty()) {
            throw fail(opcodePosition, "STOP with " + stack.size() + " values and " + marks.size()
                + " open marks on the stack (expected exactly one value)");
          }
          return stack.getFirst();
        }
        case Opcodes.MARK -> {
          marks.add(stack.size());
          stack.add(MARK_SENTINEL);
        }
        case Opcodes.POP -> {
          if (!stack.isEmpty() && stack.getLast() == MARK_SENTINEL) {
            popToMark(opcodePosition);
          } else {
            pop(opcodePosition);
          }
        }
        case Opcodes.POP_MARK -> popToMark(opcodePosition);
        case Opcodes.DUP -> push(peek(opcodePosition));
        // numbers
        case Opcodes.BININT -> push(PyInt.of(data.get(U32, take(4))));
        case Opcodes.BININT1 -> push(PyInt.of(u8()));
        case Opcodes.BININT2 -> push(PyInt.of(Short.toUnsignedInt(data.get(U16, take(2)))));
        case Opcodes.LONG1 -> push(new PyInt(littleEndianSigned(bytes(u8()))));
        case Opcodes.LONG4 -> push(new PyInt(littleEndianSigned(bytes(length32()))));
        case Opcodes.INT -> push(parseTextInt(opcodePosition, line()));
        case Opcodes.LONG -> push(parseTextLong(opcodePosition, line()));
        case Opcodes.FLOAT -> push(new PyFloat(parseTextFloat(opcodePosition, line())));
        case Opcodes.BINFLOAT -> push(new PyFloat(data.get(F64_BIG, take(8))));
        case Opcodes.NONE -> push(PyNone.INSTANCE);
        case Opcodes.NEWTRUE -> push(PyBool.TRUE);
        case Opcodes.NEWFALSE -> push(PyBool.FALSE);
        // strings and bytes
        case Opcodes.BINUNICODE -> push(new PyStr(utf8(bytes(length32()), opcodePosition)));
        case Opcodes.SHORT_BINUNICODE -> push(new PyStr(utf8(bytes(u8()), opcodePosition)));
        case Opcodes.BINUNICODE8 -> push(new PyStr(utf8(bytes(readLong64("BINUNICODE8 length")), opcodePosition)));
        case Opcodes.UNICODE -> push(new PyStr(rawUnicodeEscape(opcodePosition, line())));
        case Opcodes.STRING -> push(new PyStr(new String(pythonStringLiteral(opcodePosition, line()),
            StandardCharsets.ISO_8859_1)));
        case Opcodes.BINSTRING -> push(new PyStr(new String(bytes(length32()),
            StandardCharsets.ISO_8859_1)));
        case Opcodes.SHORT_BINSTRING -> push(new PyStr(new String(bytes(u8()), StandardCharsets.ISO_8859_1)));
        case Opcodes.BINBYTES -> push(new PyBytes(bytes(length32())));
        case Opcodes.SHORT_BINBYTES -> push(new PyBytes(bytes(u8())));
        case Opcodes.BINBYTES8 -> push(new PyBytes(bytes(readLong64("BINBYTES8 length"))));
        case Opcodes.BYTEARRAY8 -> push(new PyBytes(bytes(readLong64("BYTEARRAY8 length"))));
        // containers
        case Opcodes.EMPTY_TUPLE -> push(PyTuple.EMPTY);
        case Opcodes.TUPLE -> push(new PyTuple(popToMark(opcodePosition)));
        case Opcodes.TUPLE1 -> push(PyTuple.of(pop(opcodePosition)));
        case Opcodes.TUPLE2 -> {
          PickleValue second = pop(opcodePosition);
          push(PyTuple.of(pop(opcodePosition), second));
        }
        case Opcodes.TUPLE3 -> {
          PickleValue third = pop(opcodePosition);
          PickleValue second = pop(opcodePosition);
          push(PyTuple.of(pop(opcodePosition), second, third));
        }
        case Opcodes.EMPTY_LIST -> push(new PyList());
        case Opcodes.LIST -> push(new PyList(popToMark(opcodePosition)));
        case Opcodes.APPEND -> {
          PickleValue value = pop(opcodePosition);
          append(opcodePosition, peek(opcodePosition), List.of(value));
        }
        case Opcodes.APPENDS -> {
          List<PickleValue> values = popToMark(opcodePosition);
          append(opcodePosition, peek(opcodePosition), values);
        }
        case Opcodes.EMPTY_DICT -> push(new PyDict());
        case Opcodes.DICT -> {
          PyDict dict = new PyDict();
          setItems(opcodePosition, dict, popToMark(opcodePosition));
          push(dict);
        }
        case Opcodes.SETITEM -> {
          PickleValue value = pop(opcodePosition);
          PickleValue key = pop(opcodePosition);
          setItems(opcodePosition, peek(opcodePosition), List.of(key, value));
        }
        case Opcodes.SETITEMS -> {
          List<PickleValue> items = popToMark(opcodePosition);
          setItems(opcodePosition, peek(opcodePosition), items);
        }
        case Opcodes.EMPTY_SET -> push(new PySet(List.of(), false));
        case Opcodes.ADDITEMS -> {
          List<PickleValue> items = popToMark(opcodePosition);
          if (!(peek(opcodePosition) instanceof PySet set) || set.frozen()) {
            throw fail(opcodePosition, "ADDITEMS on " + peek(opcodePosition).typeName());
          }
          items.forEach(set::add);
        }
        case Opcodes.FROZENSET -> push(new PySet(popToMark(opcodePosition), true));
        // memo
        case Opcodes.PUT -> memoPut(opcodePosition, parseMemoIndex(opcodePosition, line()));
        case Opcodes.BINPUT -> memoPut(opcodePosition, u8());
        case Opcodes.LONG_BINPUT -> memoPut(opcodePosition, Integer.toUnsignedLong(data.get(U32, take(4))));
        case Opcodes.MEMOIZE -> memoPut(opcodePosition, memo.size());
        case Opcodes.GET -> push(memoGet(opcodePosition, parseMemoIndex(opcodePosition, line())));
        case Opcodes.BINGET -> push(memoGet(opcodePosition, u8()));
        case Opcodes.LONG_BINGET -> push(memoGet(opcodePosition, Integer.toUnsignedLong(data.get(U32, take(4)))));
        // objects
        case Opcodes.GLOBAL -> {
          String module = asciiLine(opcodePosition);
          String name = asciiLine(opcodePosition);
          push(new PyGlobal(module, name));
        }
        case Opcodes.STACK_GLOBAL -> {
          PickleValue name = pop(opcodePosition);
          PickleValue module = pop(opcodePosition);
          if (!(module instanceof PyStr moduleName) || !(name instanceof PyStr attribute)) {
            throw fail(opcodePosition, "STACK_GLOBAL expects two str, got " + module.typeName() + " and "
                + name.typeName());
          }
          push(new PyGlobal(moduleName.value(), attribute.value()));
        }
        case Opcodes.REDUCE -> {
          PickleValue args = pop(opcodePosition);
          PickleValue callable = pop(opcodePosition);
          push(call(opcodePosition, callable, Construction.REDUCE, tupleArgs(opcodePosition, args), null));
        }
        case Opcodes.NEWOBJ -> {
          PickleValue args = pop(opcodePosition);
          PickleValue cls = pop(opcodePosition);
          push(call(opcodePosition, cls, Construction.NEWOBJ, tupleArgs(opcodePosition, args), null));
        }
        case Opcodes.NEWOBJ_EX -> {
          PickleValue kwargs = pop(opcodePosition);
          PickleValue args = pop(opcodePosition);
          PickleValue cls = pop(opcodePosition);
          if (!(kwargs instanceof PyDict kwargsDict)) {
            throw fail(opcodePosition, "NEWOBJ_EX kwargs is " + kwargs.typeName() + ", not dict");
          }
          push(call(opcodePosition, cls, Construction.NEWOBJ, tupleArgs(opcodePosition, args), kwargsDict));
        }
        case Opcodes.INST -> {
          String module = asciiLine(opcodePosition);
          String name = asciiLine(opcodePosition);
          List<PickleValue> args = popToMark(opcodePosition);
          push(call(opcodePosition, new PyGlobal(module, name), Construction.REDUCE, new PyTuple(args), null));
        }
        case Opcodes.OBJ -> {
          List<PickleValue> clsAndArgs = popToMark(opcodePosition);
          if (clsAndArgs.isEmpty()) {
            throw fail(opcodePosition, "OBJ without a class");
          }
          push(call(opcodePosition, clsAndArgs.getFirst(), Construction.NEWOBJ,
              new PyTuple(clsAndArgs.subList(1, clsAndArgs.size())), null));
        }
        case Opcodes.BUILD -> {
          PickleValue state = pop(opcodePosition);
          PickleValue target = peek(opcodePosition);
          if (!(target instanceof PyObject object)) {
            throw fail(opcodePosition, "BUILD on " + target.typeName());
          }
          object.build(state);
        }
        case Opcodes.BINPERSID -> push(new PyPersistentId(pop(opcodePosition)));
        case Opcodes.PERSID -> push(new PyPersistentId(new PyStr(asciiLine(opcodePosition))));
        case Opcodes.EXT1, Opcodes.EXT2, Opcodes.EXT4 ->
            throw fail(opcodePosition, "extension-registry opcode 0x" + Integer.toHexString(opcode)
                + " is not supported");
        case Opcodes.NEXT_BUFFER, Opcodes.READONLY_BUFFER ->
            throw fail(opcodePosition, "out-of-band buffer opcode 0x" + Integer.toHexString(opcode)
                + " is not supported");
        default -> throw fail(opcodePosition, "unknown opcode 0x" + Integer.toHexString(opcode));
      }
    }
  }

  /** REDUCE/NEWOBJ; folds the reductions that denote built-in values (see class comment). */
  private PickleValue call(long at, PickleValue callable, Construction construction, PyTuple args,
      PyDict kwargs) {
    if (callable == MARK_SENTINEL) {
      throw fail(at, "call of a MARK");
    }
    if (callable instanceof PyGlobal global && (kwargs == null || kwargs.size() == 0)) {
      if (global.is("collections", "OrderedDict") && args.size() == 0) {
        return new PyDict();
      }
      if ((global.is("builtins", "set") || global.is("builtins", "frozenset")) && args.size() <= 1) {
        boolean frozen = global.name().equals("frozenset");
        if (args.size() == 0) {
          return new PySet(List.of(), frozen);
        }
        if (args.get(0) instanceof PyList list) {
          return new PySet(list.items(), frozen);
        }
      }
      if ((global.is("builtins", "bytes") || global.is("builtins", "bytearray")) && args.size() == 0) {
        return new PyBytes(new byte[0]);
      }
      if (global.is("_codecs", "encode") && args.size() == 2 && args.get(0) instanceof PyStr text
          && args.get(1) instanceof PyStr encoding && encoding.value().equals("latin1")) {
        return latin1Bytes(at, text.value());
      }
      if (global.is("builtins", "bytearray") && args.size() == 1 && args.get(0) instanceof PyBytes bytes) {
        return bytes;
      }
      // Protocols 0/1 spell cls.__new__(cls) as copyreg._reconstructor(cls, object, None).
      if (global.is("copyreg", "_reconstructor") && args.size() == 3 && args.get(1) instanceof PyGlobal base
          && base.is("builtins", "object") && args.get(2) instanceof PyNone) {
        return new PyObject(args.get(0), Construction.NEWOBJ, PyTuple.EMPTY, null);
      }
    }
    return new PyObject(callable, construction, args, kwargs);
  }

  private PyBytes latin1Bytes(long at, String text) {
    byte[] out = new byte[text.length()];
    for (int index = 0; index < text.length(); index++) {
      char c = text.charAt(index);
      if (c > 0xFF) {
        throw fail(at, "_codecs.encode(…, 'latin1') of a character above U+00FF");
      }
      out[index] = (byte) c;
    }
    return new PyBytes(out);
  }

  private PyTuple tupleArgs(long at, PickleValue args) {
    if (args instanceof PyTuple tuple) {
      return tuple;
    }
    throw fail(at, "call arguments are " + args.typeName() + ", not a tuple");
  }

  private void append(long at, PickleValue target, List<PickleValue> values) {
    switch (target) {
      case PyList list -> values.forEach(list::append);
      case PyObject object -> values.forEach(object::appendItem);
      default -> throw fail(at, "APPEND to " + target.typeName());
    }
  }

  private void setItems(long at, PickleValue target, List<PickleValue> keysAndValues) {
    if (keysAndValues.size() % 2 != 0) {
      throw fail(at, "odd number of values for SETITEMS");
    }
    PyDict dict = switch (target) {
      case PyDict plain -> plain;
      case PyObject object -> object.dictItems();
      default -> throw fail(at, "SETITEM on " + target.typeName());
    };
    for (int index = 0; index < keysAndValues.size(); index += 2) {
      dict.put(keysAndValues.get(index), keysAndValues.get(index + 1));
    }
  }

  // ---------------------------------------------------------------- stack and memo

  private void push(PickleValue value) {
    stack.add(value);
  }

  private PickleValue pop(long at) {
    PickleValue value = peek(at);
    stack.removeLast();
    return value;
  }

  private PickleValue peek(long at) {
    if (stack.isEmpty()) {
      throw fail(at, "stack underflow");
    }
    PickleValue value = stack.getLast();
    if (value == MARK_SENTINEL) {
      throw fail(at, "value expected but found a MARK");
    }
    return value;
  }

  private List<PickleValue> popToMark(long at) {
    if (marks.isEmpty()) {
      throw fail(at, "no MARK on the stack");
    }
    int mark = marks.removeLast();
    List<PickleValue> values = new ArrayList<>(stack.subList(mark + 1, stack.size()));
    stack.subList(mark, stack.size()).clear();
    return values;
  }

  private void memoPut(long at, long index) {
    memo.put(index, peek(at));
  }

  private PickleValue memoGet(long at, long index) {
    PickleValue value = memo.get(index);
    if (value == null) {
      throw fail(at, "memo index " + index + " was never stored");
    }
    return value;
  }

  // ---------------------------------------------------------------- raw input

  private long take(long count) {
    if (count < 0 || count > data.byteSize() - position) {
      throw fail(position, "truncated: need " + count + " bytes, " + (data.byteSize() - position) + " left");
    }
    long at = position;
    position += count;
    return at;
  }

  private int u8() {
    return Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, take(1)));
  }

  private long length32() {
    return Integer.toUnsignedLong(data.get(U32, take(4)));
  }

  private long readLong64(String what) {
    long at = position;
    long value = data.get(U64, take(8));
    if (value < 0) {
      throw fail(at, what + " " + Long.toUnsignedString(value) + " is absurd");
    }
    return value;
  }

  private byte[] bytes(long count) {
    long at = take(count);
    if (count > Integer.MAX_VALUE - 16) {
      throw fail(at, "value of " + count + " bytes is too large");
    }
    return data.asSlice(at, count).toArray(ValueLayout.JAVA_BYTE);
  }

  /** Bytes up to (excluding) the next newline, which is consumed. */
  private byte[] line() {
    long start = position;
    long end = start;
    long size = data.byteSize();
    while (end < size && data.get(ValueLayout.JAVA_BYTE, end) != '\n') {
      end++;
    }
    if (end >= size) {
      throw fail(start, "truncated: text argument without a terminating newline");
    }
    position = end + 1;
    return data.asSlice(start, end - start).toArray(ValueLayout.JAVA_BYTE);
  }

  private String asciiLine(long at) {
    return utf8(line(), at);
  }

  private String utf8(byte[] bytes, long at) {
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      throw fail(at, "string is not valid UTF-8");
    }
  }

  private static BigInteger littleEndianSigned(byte[] littleEndian) {
    if (littleEndian.length == 0) {
      return BigInteger.ZERO;
    }
    byte[] bigEndian = new byte[littleEndian.length];
    for (int index = 0; index < littleEndian.length; index++) {
      bigEndian[index] = littleEndian[littleEndian.length - 1 - index];
    }
    return new BigInteger(bigEndian);
  }

  // ---------------------------------------------------------------- protocol-0 text arguments

  private PickleValue parseTextInt(long at, byte[] line) {
    String text = new String(line, StandardCharsets.US_ASCII).strip();
    if (text.equals("00")) {
      return PyBool.FALSE;
    }
    if (text.equals("01")) {
      return PyBool.TRUE;
    }
    try {
      return new PyInt(new BigInteger(text));
    } catch (NumberFormatException e) {
      throw fail(at, "INT argument '" + text + "' is not an integer");
    }
  }

  private PyInt parseTextLong(long at, byte[] line) {
    String text = new String(line, StandardCharsets.US_ASCII).strip();
    if (text.endsWith("L")) {
      text = text.substring(0, text.length() - 1);
    }
    try {
      return new PyInt(new BigInteger(text));
    } catch (NumberFormatException e) {
      throw fail(at, "LONG argument '" + text + "' is not an integer");
    }
  }

  private double parseTextFloat(long at, byte[] line) {
    String text = new String(line, StandardCharsets.US_ASCII).strip();
    return switch (text) {
      case "inf" -> Double.POSITIVE_INFINITY;
      case "-inf" -> Double.NEGATIVE_INFINITY;
      case "nan" -> Double.NaN;
      default -> {
        try {
          yield Double.parseDouble(text);
        } catch (NumberFormatException e) {
          throw fail(at, "FLOAT argument '" + text + "' is not a number");
        }
      }
    };
  }

  private long parseMemoIndex(long at, byte[] line) {
    String text = new String(line, StandardCharsets.US_ASCII).strip();
    try {
      long index = Long.parseLong(text);
      if (index < 0) {
        throw fail(at, "negative memo index " + index);
      }
      return index;
    } catch (NumberFormatException e) {
      throw fail(at, "memo index '" + text + "' is not an integer");
    }
  }

  /** Decodes a quoted Python 2 string literal ({@code 'abc\n'}) as written by STRING. */
  private byte[] pythonStringLiteral(long at, byte[] line) {
    if (line.length < 2 || line[0] != line[line.length - 1] || (line[0] != '\'' && line[0] != '"')) {
      throw fail(at, "STRING argument is not a quoted literal");
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int index = 1;
    int end = line.length - 1;
    while (index < end) {
      byte b = line[index++];
      if (b != '\\') {
        out.write(b);
        continue;
      }
      if (index >= end) {
        throw fail(at, "STRING literal ends inside an escape");
      }
      byte escape = line[index++];
      switch (escape) {
        case 'n' -> out.write('\n');
        case 't' -> out.write('\t');
        case 'r' -> out.write('\r');
        case '\\', '\'', '"' -> out.write(escape);
        case 'x' -> {
          if (index + 2 > end) {
            throw fail(at, "STRING literal has a short \\x escape");
          }
          out.write(parseHex(at, line, index, 2));
          index += 2;
        }
        default -> {
          if (escape >= '0' && escape <= '7') {
            int value = escape - '0';
            for (int digits = 1; digits < 3 && index < end && line[index] >= '0' && line[index] <= '7'; digits++) {
              value = value * 8 + (line[index++] - '0');
            }
            out.write(value & 0xFF);
          } else {
            out.write('\\');
            out.write(escape);
          }
        }
      }
    }
    return out.toByteArray();
  }

  /** Decodes Python's raw-unicode-escape (only {@code \\uXXXX} and {@code \\UXXXXXXXX} are escapes). */
  private String rawUnicodeEscape(long at, byte[] line) {
    StringBuilder out = new StringBuilder();
    int index = 0;
    while (index < line.length) {
      int b = line[index] & 0xFF;
      if (b == '\\' && index + 1 < line.length && (line[index + 1] == 'u' || line[index + 1] == 'U')) {
        int digits = line[index + 1] == 'u' ? 4 : 8;
        if (index + 2 + digits > line.length) {
          throw fail(at, "UNICODE argument has a short escape");
        }
        out.appendCodePoint(checkedCodePoint(at, parseHex(at, line, index + 2, digits)));
        index += 2 + digits;
      } else {
        out.append((char) b);
        index++;
      }
    }
    return out.toString();
  }

  private int checkedCodePoint(long at, int codePoint) {
    if (!Character.isValidCodePoint(codePoint)) {
      throw fail(at, "invalid code point " + Integer.toHexString(codePoint));
    }
    return codePoint;
  }

  private int parseHex(long at, byte[] line, int from, int digits) {
    try {
      return (int) Long.parseLong(new String(line, from, digits, StandardCharsets.US_ASCII), 16);
    } catch (NumberFormatException e) {
      throw fail(at, "bad hexadecimal escape");
    }
  }

  private CheckpointFormatException fail(long at, String message) {
    return new CheckpointFormatException(source + ": malformed pickle at byte " + at + ": " + message);
  }
}
