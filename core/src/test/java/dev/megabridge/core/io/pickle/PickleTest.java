package dev.megabridge.core.io.pickle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import dev.megabridge.core.io.pickle.PickleValue.PyPersistentId;
import dev.megabridge.core.io.pickle.PickleValue.PySet;
import dev.megabridge.core.io.pickle.PickleValue.PyStr;
import dev.megabridge.core.io.pickle.PickleValue.PyTuple;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PickleTest {

  /**
   * Inputs produced by CPython 3.11 {@code pickle.dumps(obj, protocol=P)} for
   * <pre>
   * {'int_small': 7, 'int_neg': -3, 'int_mid': 40000, 'int_big': 2**40, 'int_huge': -(2**70),
   *  'float': 1.5, 'str': 'héllo', 'bytes': b'\x00\xffab', 'none': None, 't': True, 'f': False,
   *  'tuple': (1, 'two', 3.0, None), 'list': [1, [2, 3]], 'set': {5}, 'frozen': frozenset([6]),
   *  'od': OrderedDict([('x', 1)]), 'ns': argparse.Namespace(lr=0.1, layers=4)}
   * </pre>
   */
  private static final Map<Integer, String> PYTHON_PICKLES = Map.of(
      0, "286470300a56696e745f736d616c6c0a70310a49370a7356696e745f6e65670a70320a492d330a7356696e745f6d69640a70330a49"
          + "34303030300a7356696e745f6269670a70340a4c313039393531313632373737364c0a7356696e745f687567650a70350a4c2d3131"
          + "38303539313632303731373431313330333432344c0a7356666c6f61740a70360a46312e350a73567374720a70370a5668e96c6c6f"
          + "0a70380a735662797465730a70390a635f636f646563730a656e636f64650a7031300a28565c7530303030ff61620a7031310a566c"
          + "6174696e310a7031320a747031330a527031340a73566e6f6e650a7031350a4e7356740a7031360a4930310a7356660a7031370a49"
          + "30300a73567475706c650a7031380a2849310a5674776f0a7031390a46332e300a4e747032300a73566c6973740a7032310a286c70"
          + "32320a49310a61286c7032330a49320a6149330a616173567365740a7032340a635f5f6275696c74696e5f5f0a7365740a7032350a"
          + "28286c7032360a49350a61747032370a527032380a735666726f7a656e0a7032390a635f5f6275696c74696e5f5f0a66726f7a656e"
          + "7365740a7033300a28286c7033310a49360a61747033320a527033330a73566f640a7033340a63636f6c6c656374696f6e730a4f72"
          + "6465726564446963740a7033350a2874527033360a56780a7033370a49310a7373566e730a7033380a63636f70795f7265670a5f72"
          + "65636f6e7374727563746f720a7033390a286361726770617273650a4e616d6573706163650a7034300a635f5f6275696c74696e5f"
          + "5f0a6f626a6563740a7034310a4e747034320a527034330a28647034340a566c720a7034350a46302e310a73566c61796572730a70"
          + "34360a49340a7362732e",
      2, "80027d7100285809000000696e745f736d616c6c71014b075807000000696e745f6e656771024afdffffff5807000000696e745f6d"
          + "696471034d409c5807000000696e745f62696771048a060000000000015808000000696e745f6875676571058a0900000000000000"
          + "00c05805000000666c6f61747106473ff800000000000058030000007374727107580600000068c3a96c6c6f710858050000006279"
          + "7465737109635f636f646563730a656e636f64650a710a580500000000c3bf6162710b58060000006c6174696e31710c86710d5271"
          + "0e58040000006e6f6e65710f4e58010000007471108858010000006671118958050000007475706c657112284b0158030000007477"
          + "6f71134740080000000000004e74711458040000006c69737471155d7116284b015d7117284b024b03656558030000007365747118"
          + "635f5f6275696c74696e5f5f0a7365740a71195d711a4b056185711b52711c580600000066726f7a656e711d635f5f6275696c7469"
          + "6e5f5f0a66726f7a656e7365740a711e5d711f4b066185712052712158020000006f64712263636f6c6c656374696f6e730a4f7264"
          + "65726564446963740a71232952712458010000007871254b017358020000006e7371266361726770617273650a4e616d6573706163"
          + "650a7127298171287d71292858020000006c72712a473fb999999999999a58060000006c6179657273712b4b047562752e",
      4, "80049550010000000000007d94288c09696e745f736d616c6c944b078c07696e745f6e6567944afdffffff8c07696e745f6d696494"
          + "4d409c8c07696e745f626967948a060000000000018c08696e745f68756765948a090000000000000000c08c05666c6f617494473f"
          + "f80000000000008c03737472948c0668c3a96c6c6f948c05627974657394430400ff6162948c046e6f6e65944e8c017494888c0166"
          + "94898c057475706c6594284b018c0374776f944740080000000000004e74948c046c697374945d94284b015d94284b024b0365658c"
          + "03736574948f94284b05908c0666726f7a656e94284b0691948c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564"
          + "446963749493942952948c0178944b01738c026e73948c086172677061727365948c094e616d6573706163659493942981947d9428"
          + "8c026c7294473fb999999999999a8c066c6179657273944b047562752e",
      5, "80059550010000000000007d94288c09696e745f736d616c6c944b078c07696e745f6e6567944afdffffff8c07696e745f6d696494"
          + "4d409c8c07696e745f626967948a060000000000018c08696e745f68756765948a090000000000000000c08c05666c6f617494473f"
          + "f80000000000008c03737472948c0668c3a96c6c6f948c05627974657394430400ff6162948c046e6f6e65944e8c017494888c0166"
          + "94898c057475706c6594284b018c0374776f944740080000000000004e74948c046c697374945d94284b015d94284b024b0365658c"
          + "03736574948f94284b05908c0666726f7a656e94284b0691948c026f64948c0b636f6c6c656374696f6e73948c0b4f726465726564"
          + "446963749493942952948c0178944b01738c026e73948c086172677061727365948c094e616d6573706163659493942981947d9428"
          + "8c026c7294473fb999999999999a8c066c6179657273944b047562752e");

  /** The object above, built independently of the reader. */
  private static PyDict expectedPythonObject() {
    Map<String, PickleValue> fields = new LinkedHashMap<>();
    fields.put("int_small", PyInt.of(7));
    fields.put("int_neg", PyInt.of(-3));
    fields.put("int_mid", PyInt.of(40000));
    fields.put("int_big", PyInt.of(1L << 40));
    fields.put("int_huge", new PyInt(BigInteger.TWO.pow(70).negate()));
    fields.put("float", new PyFloat(1.5));
    fields.put("str", new PyStr("héllo"));
    fields.put("bytes", new PyBytes(new byte[] {0, (byte) 0xff, 'a', 'b'}));
    fields.put("none", PyNone.INSTANCE);
    fields.put("t", PyBool.TRUE);
    fields.put("f", PyBool.FALSE);
    fields.put("tuple", PyTuple.of(PyInt.of(1), new PyStr("two"), new PyFloat(3.0), PyNone.INSTANCE));
    fields.put("list", new PyList(List.of(PyInt.of(1), new PyList(List.of(PyInt.of(2), PyInt.of(3))))));
    fields.put("set", new PySet(List.of(PyInt.of(5)), false));
    fields.put("frozen", new PySet(List.of(PyInt.of(6)), true));
    fields.put("od", PyDict.ofStrings(Map.of("x", PyInt.of(1))));
    Map<String, PickleValue> namespace = new LinkedHashMap<>();
    namespace.put("lr", new PyFloat(0.1));
    namespace.put("layers", PyInt.of(4));
    fields.put("ns", PyObject.newWithState(new PyGlobal("argparse", "Namespace"), PyDict.ofStrings(namespace)));
    return PyDict.ofStrings(fields);
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 2, 4, 5})
  void readsCPythonPicklesOfEveryProtocol(int protocol) {
    byte[] pickle = HexFormat.of().parseHex(PYTHON_PICKLES.get(protocol));
    assertThat(PickleReader.read(pickle, "python-p" + protocol)).isEqualTo(expectedPythonObject());
  }

  @Test
  void writerOutputReadsBackEqual() {
    PyObject custom = new PyObject(new PyGlobal("some.module", "Unknown"), PyObject.Construction.REDUCE,
        PyTuple.of(PyInt.of(1), new PyStr("a")), null);
    PyObject withState = PyObject.newWithState(new PyGlobal("pkg", "Cls"),
        PyTuple.of(PyNone.INSTANCE, PyBool.TRUE));
    List<PickleValue> longList = new ArrayList<>();
    for (int index = 0; index < 2500; index++) {
      longList.add(new PyStr("k" + (index % 300)));
    }
    Map<String, PickleValue> fields = new LinkedHashMap<>();
    fields.put("python", expectedPythonObject());
    fields.put("custom", custom);
    fields.put("state", withState);
    fields.put("persistent", new PyPersistentId(PyTuple.of(new PyStr("storage"), PyInt.of(3))));
    fields.put("long_list", new PyList(longList));
    fields.put("bigs", new PyList(List.of(PyInt.of(Integer.MAX_VALUE), PyInt.of(Integer.MIN_VALUE),
        PyInt.of(1L << 31), PyInt.of(-(1L << 31) - 1), PyInt.of(255), PyInt.of(256), PyInt.of(65535),
        PyInt.of(65536), PyInt.of(-1), PyInt.of(Long.MAX_VALUE), new PyInt(BigInteger.ONE.shiftLeft(2100)))));
    fields.put("floats", PyTuple.of(new PyFloat(Double.NaN), new PyFloat(-0.0), new PyFloat(1e300)));
    fields.put("empty", PyTuple.of(new PyList(), new PyDict(), PyTuple.EMPTY, new PyBytes(new byte[0]),
        new PySet(List.of(), false)));
    PyDict value = PyDict.ofStrings(fields);
    byte[] pickle = PickleWriter.write(value);
    assertThat(pickle[0] & 0xff).isEqualTo(0x80);
    assertThat(pickle[1]).isEqualTo((byte) 2);
    assertThat(PickleReader.read(pickle, "round trip")).isEqualTo(value);
  }

  @Test
  void writerMemoisesRepeatedStringsAndGlobals() {
    List<PickleValue> repeated = new ArrayList<>();
    for (int index = 0; index < 1000; index++) {
      repeated.add(PyTuple.of(new PyStr("a_fairly_long_field_name"), new PyGlobal("torch", "Size")));
    }
    byte[] pickle = PickleWriter.write(new PyList(repeated));
    assertThat(pickle.length).isLessThan(1000 * 8);
    assertThat(PickleReader.read(pickle, "memo")).isEqualTo(new PyList(repeated));
  }

  @Test
  void dictsKeepInsertionOrderAndLastValueForRepeatedKeys() {
    // {'b': 1, 'a': 2} then SETITEM 'b' -> 3 (protocol 2, hand-assembled)
    byte[] pickle = HexFormat.of().parseHex("80027d28580100000062" + "4b01" + "580100000061" + "4b02" + "75"
        + "580100000062" + "4b03" + "73" + "2e");
    PyDict dict = (PyDict) PickleReader.read(pickle, "dict");
    assertThat(dict.entries()).extracting(Map.Entry::getKey).containsExactly(new PyStr("b"), new PyStr("a"));
    assertThat(dict.get("b")).contains(PyInt.of(3));
  }

  @Test
  void everyTruncationFailsCleanly() {
    for (int protocol : List.of(0, 2, 4)) {
      byte[] pickle = HexFormat.of().parseHex(PYTHON_PICKLES.get(protocol));
      for (int length = 0; length < pickle.length; length++) {
        byte[] truncated = java.util.Arrays.copyOf(pickle, length);
        assertThatThrownBy(() -> PickleReader.read(truncated, "truncated.pkl"))
            .as("protocol %d truncated to %d bytes", protocol, length)
            .isInstanceOf(CheckpointFormatException.class)
            .hasMessageStartingWith("truncated.pkl: malformed pickle at byte");
      }
    }
  }

  @Test
  void corruptedBytesEitherParseOrFailCleanly() {
    byte[] pickle = HexFormat.of().parseHex(PYTHON_PICKLES.get(2));
    Random random = new Random(42);
    int failures = 0;
    for (int trial = 0; trial < 3000; trial++) {
      byte[] corrupted = pickle.clone();
      for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
        corrupted[random.nextInt(corrupted.length)] = (byte) random.nextInt(256);
      }
      try {
        PickleReader.read(corrupted, "fuzz.pkl");
      } catch (CheckpointFormatException e) {
        assertThat(e.getMessage()).startsWith("fuzz.pkl: ");
        failures++;
      }
    }
    assertThat(failures).isPositive();
  }

  @Test
  void badOpcodesAndStackMisuseAreFormatErrors() {
    assertThatThrownBy(() -> PickleReader.read(HexFormat.of().parseHex("8002ff2e"), "bad.pkl"))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("unknown opcode 0xff");
    assertThatThrownBy(() -> PickleReader.read(HexFormat.of().parseHex("80022e"), "empty.pkl"))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("STOP with 0 values");
    assertThatThrownBy(() -> PickleReader.read(HexFormat.of().parseHex("8002652e"), "appends.pkl"))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("no MARK");
    assertThatThrownBy(() -> PickleReader.read(HexFormat.of().parseHex("800268052e"), "memo.pkl"))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("memo index 5");
    assertThatThrownBy(() -> PickleReader.read(HexFormat.of().parseHex("80064e2e"), "proto.pkl"))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("protocol 6");
    assertThatThrownBy(() -> PickleReader.read(HexFormat.of().parseHex("80024b0162"), "build.pkl"))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("stack underflow");
    // BINUNICODE claiming 4 GiB.
    assertThatThrownBy(() -> PickleReader.read(HexFormat.of().parseHex("800258ffffffff"), "huge.pkl"))
        .isInstanceOf(CheckpointFormatException.class).hasMessageContaining("truncated");
  }

  @Test
  void selfReferencingKeysFailCleanly() {
    // l = []; l.append(l); {l: 1} — unhashable in Python, must not crash the reader.
    byte[] pickle = HexFormat.of().parseHex("80027d5d7100680061" + "4b01" + "732e");
    assertThatThrownBy(() -> PickleReader.read(pickle, "cycle.pkl")).isInstanceOf(CheckpointFormatException.class)
        .hasMessageContaining("references itself");
  }
}
