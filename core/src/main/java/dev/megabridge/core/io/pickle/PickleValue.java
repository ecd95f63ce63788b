package dev.megabridge.core.io.pickle;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A Python value as a pickle describes it, without importing anything: primitives and containers map to
 * their Java counterparts, and every class instance (known or not) becomes a {@link PyObject} that records
 * how it was built (callable, arguments, state). This keeps the reader a generic pickle VM that never refuses
 * an unknown class (docs/formats.md §3.6).
 *
 * <p>Containers ({@link PyList}, {@link PyDict}, {@link PySet}, {@link PyObject}) are filled while a pickle
 * is read (APPENDS, SETITEMS, BUILD can target an object that is already referenced elsewhere through the
 * memo); once returned by {@link PickleReader} they are only exposed as read-only views. Equality is
 * structural throughout (self-referencing pickles are valid Python but not supported by equality).
 */
public sealed interface PickleValue {

  /** A short description of the value's Python type, for error messages. */
  default String typeName() {
    return switch (this) {
      case PyNone ignored -> "None";
      case PyBool ignored -> "bool";
      case PyInt ignored -> "int";
      case PyFloat ignored -> "float";
      case PyStr ignored -> "str";
      case PyBytes ignored -> "bytes";
      case PyTuple ignored -> "tuple";
      case PyList ignored -> "list";
      case PyDict ignored -> "dict";
      case PySet set -> set.frozen() ? "frozenset" : "set";
      case PyGlobal global -> "global " + global.qualifiedName();
      case PyPersistentId ignored -> "persistent id";
      case PyObject object -> "object of " + object.callableName();
    };
  }

  /** Python's {@code None}. */
  record PyNone() implements PickleValue {
    public static final PyNone INSTANCE = new PyNone();
  }

  record PyBool(boolean value) implements PickleValue {
    public static final PyBool TRUE = new PyBool(true);
    public static final PyBool FALSE = new PyBool(false);

    public static PyBool of(boolean value) {
      return value ? TRUE : FALSE;
    }
  }

  /** A Python int of any size. */
  record PyInt(BigInteger value) implements PickleValue {
    private static final BigInteger LONG_MIN = BigInteger.valueOf(Long.MIN_VALUE);
    private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    public PyInt {
      Objects.requireNonNull(value);
    }

    public static PyInt of(long value) {
      return new PyInt(BigInteger.valueOf(value));
    }

    public boolean fitsLong() {
      return value.compareTo(LONG_MIN) >= 0 && value.compareTo(LONG_MAX) <= 0;
    }

    /** The value as a long; throws {@link ArithmeticException} when it does not fit. */
    public long longValue() {
      return value.longValueExact();
    }
  }

  record PyFloat(double value) implements PickleValue {}

  record PyStr(String value) implements PickleValue {
    public PyStr {
      Objects.requireNonNull(value);
    }
  }

  /** Python {@code bytes} (or {@code bytearray}); the array is copied in and out. */
  record PyBytes(byte[] value) implements PickleValue {
    public PyBytes {
      value = value.clone();
    }

    @Override
    public byte[] value() {
      return value.clone();
    }

    public int length() {
      return value.length;
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof PyBytes bytes && Arrays.equals(value, bytes.value);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(value);
    }

    @Override
    public String toString() {
      return "PyBytes[" + HexFormat.of().formatHex(value, 0, Math.min(value.length, 32))
          + (value.length > 32 ? "…" : "") + "]";
    }
  }

  record PyTuple(List<PickleValue> items) implements PickleValue {
    public static final PyTuple EMPTY = new PyTuple(List.of());

    public PyTuple {
      items = List.copyOf(items);
    }

    public static PyTuple of(PickleValue... items) {
      return new PyTuple(List.of(items));
    }

    public int size() {
      return items.size();
    }

    public PickleValue get(int index) {
      return items.get(index);
    }
  }

  /** A reference to a module attribute (class, function, enum type): {@code GLOBAL module name}. */
  record PyGlobal(String module, String name) implements PickleValue {
    public PyGlobal {
      Objects.requireNonNull(module);
      Objects.requireNonNull(name);
    }

    public String qualifiedName() {
      return module + "." + name;
    }

    /** True when this names {@code module.name}, treating Python 2's {@code __builtin__} as {@code builtins}. */
    public boolean is(String expectedModule, String expectedName) {
      return name.equals(expectedName) && normalisedModule().equals(expectedModule);
    }

    private String normalisedModule() {
      return switch (module) {
        case "__builtin__" -> "builtins";
        case "copy_reg" -> "copyreg";
        default -> module;
      };
    }
  }

  /**
   * A persistent id left unresolved: torch archives reference tensor storages this way
   * ({@code ('storage', StorageClass, key, location, numel)}, docs/formats.md §3.7).
   */
  record PyPersistentId(PickleValue id) implements PickleValue {
    public PyPersistentId {
      Objects.requireNonNull(id);
    }
  }

  /** A Python list. */
  final class PyList implements PickleValue {
    private final List<PickleValue> items;

    public PyList() {
      this.items = new ArrayList<>();
    }

    public PyList(List<? extends PickleValue> items) {
      this.items = new ArrayList<>(items);
    }

    public List<PickleValue> items() {
      return Collections.unmodifiableList(items);
    }

    public int size() {
      return items.size();
    }

    public PickleValue get(int index) {
      return items.get(index);
    }

    void append(PickleValue value) {
      items.add(value);
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof PyList list && items.equals(list.items);
    }

    @Override
    public int hashCode() {
      return items.hashCode();
    }

    @Override
    public String toString() {
      return "PyList" + items;
    }
  }

  /**
   * A Python dict (or {@code collections.OrderedDict}) in insertion order. Keys may be arbitrary values
   * (DCP keys its {@code storage_data} by {@code MetadataIndex} objects), compared structurally; a repeated
   * key replaces the earlier value, as in Python.
   */
  final class PyDict implements PickleValue {
    private final List<Map.Entry<PickleValue, PickleValue>> entries = new ArrayList<>();
    private final HashMap<PickleValue, Integer> positions = new HashMap<>();

    public PyDict() {}

    public PyDict(List<Map.Entry<PickleValue, PickleValue>> entries) {
      entries.forEach(entry -> put(entry.getKey(), entry.getValue()));
    }

    /** A dict with string keys, in the iteration order of {@code entries}. */
    public static PyDict ofStrings(Map<String, ? extends PickleValue> entries) {
      PyDict dict = new PyDict();
      entries.forEach((key, value) -> dict.put(new PyStr(key), value));
      return dict;
    }

    public List<Map.Entry<PickleValue, PickleValue>> entries() {
      return Collections.unmodifiableList(entries);
    }

    public int size() {
      return entries.size();
    }

    public Optional<PickleValue> get(PickleValue key) {
      Integer position = positions.get(key);
      return position == null ? Optional.empty() : Optional.of(entries.get(position).getValue());
    }

    public Optional<PickleValue> get(String key) {
      return get(new PyStr(key));
    }

    /**
     * Inserts or replaces. Keys are hashed when inserted: a pickle only uses an object as a key after
     * building it completely, so its structural hash does not change afterwards.
     */
    void put(PickleValue key, PickleValue value) {
      Integer position = positions.putIfAbsent(key, entries.size());
      if (position == null) {
        entries.add(Map.entry(key, value));
      } else {
        entries.set(position, Map.entry(key, value));
      }
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof PyDict dict && entries.equals(dict.entries);
    }

    @Override
    public int hashCode() {
      return entries.hashCode();
    }

    @Override
    public String toString() {
      return "PyDict" + entries;
    }
  }

  /** A Python set or frozenset (items in pickle order). */
  final class PySet implements PickleValue {
    private final List<PickleValue> items;
    private final boolean frozen;

    public PySet(List<? extends PickleValue> items, boolean frozen) {
      this.items = new ArrayList<>(items);
      this.frozen = frozen;
    }

    public List<PickleValue> items() {
      return Collections.unmodifiableList(items);
    }

    public boolean frozen() {
      return frozen;
    }

    void add(PickleValue value) {
      if (!items.contains(value)) {
        items.add(value);
      }
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof PySet set && frozen == set.frozen && items.equals(set.items);
    }

    @Override
    public int hashCode() {
      return items.hashCode() * 31 + Boolean.hashCode(frozen);
    }

    @Override
    public String toString() {
      return (frozen ? "PyFrozenSet" : "PySet") + items;
    }
  }

  /**
   * An object built by calling {@code callable} (REDUCE: {@code callable(*args)}; NEWOBJ:
   * {@code cls.__new__(cls, *args, **kwargs)}), then optionally given {@code state} (BUILD), list items
   * (APPEND/APPENDS on a list subclass) and dict items (SETITEM/SETITEMS on a dict subclass).
   */
  final class PyObject implements PickleValue {

    /** How the object was created in the pickle. */
    public enum Construction {
      REDUCE,
      NEWOBJ
    }

    private final PickleValue callable;
    private final Construction construction;
    private final PyTuple args;
    private final PyDict kwargs;
    private PickleValue state;
    private final List<PickleValue> listItems = new ArrayList<>();
    private final PyDict dictItems = new PyDict();

    public PyObject(PickleValue callable, Construction construction, PyTuple args, PyDict kwargs) {
      this.callable = Objects.requireNonNull(callable);
      this.construction = Objects.requireNonNull(construction);
      this.args = Objects.requireNonNull(args);
      this.kwargs = kwargs == null ? new PyDict() : kwargs;
    }

    /** {@code cls.__new__(cls)} followed by {@code BUILD state}: how dataclasses and Namespaces pickle. */
    public static PyObject newWithState(PyGlobal cls, PickleValue state) {
      PyObject object = new PyObject(cls, Construction.NEWOBJ, PyTuple.EMPTY, null);
      object.state = state;
      return object;
    }

    /** {@code callable(*args)}. */
    public static PyObject reduce(PickleValue callable, PickleValue... args) {
      return new PyObject(callable, Construction.REDUCE, PyTuple.of(args), null);
    }

    public PickleValue callable() {
      return callable;
    }

    /** {@code module.name} of the callable when it is a global, else its type name. */
    public String callableName() {
      return callable instanceof PyGlobal global ? global.qualifiedName() : callable.typeName();
    }

    /** True when the callable is the global {@code module.name}. */
    public boolean isA(String module, String name) {
      return callable instanceof PyGlobal global && global.is(module, name);
    }

    public Construction construction() {
      return construction;
    }

    public PyTuple args() {
      return args;
    }

    public PyDict kwargs() {
      return kwargs;
    }

    public Optional<PickleValue> state() {
      return Optional.ofNullable(state);
    }

    /** The BUILD state as a dict (the {@code __dict__} of a plain class or dataclass), if it is one. */
    public Optional<PyDict> stateDict() {
      return state instanceof PyDict dict ? Optional.of(dict) : Optional.empty();
    }

    /** An attribute from the state dict. */
    public Optional<PickleValue> attribute(String name) {
      return stateDict().flatMap(dict -> dict.get(name));
    }

    public List<PickleValue> listItems() {
      return Collections.unmodifiableList(listItems);
    }

    public PyDict dictItems() {
      return dictItems;
    }

    /** Applies BUILD: a dict merges into an existing dict state (Python's default setstate), else replaces. */
    void build(PickleValue newState) {
      if (state instanceof PyDict existing && newState instanceof PyDict update) {
        update.entries().forEach(entry -> existing.put(entry.getKey(), entry.getValue()));
      } else {
        state = newState;
      }
    }

    void appendItem(PickleValue value) {
      listItems.add(value);
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof PyObject object && callable.equals(object.callable)
          && construction == object.construction && args.equals(object.args) && kwargs.equals(object.kwargs)
          && Objects.equals(state, object.state) && listItems.equals(object.listItems)
          && dictItems.equals(object.dictItems);
    }

    @Override
    public int hashCode() {
      return Objects.hash(callable, args, state);
    }

    @Override
    public String toString() {
      return "PyObject[" + callableName() + (args.size() > 0 ? " args=" + args.items() : "")
          + (state != null ? " state=" + state : "") + "]";
    }
  }
}
