package dev.megabridge.core.io.torchdist;

import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyFloat;
import dev.megabridge.core.io.pickle.PickleValue.PyGlobal;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyObject;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Builders for Megatron's common (non-tensor) state, {@code common.pt} (docs/formats.md §3.8). Megatron loads it with
 * {@code weights_only=True}, so only primitives, containers, {@code None}, dtypes and registered classes
 * such as {@code argparse.Namespace} may appear in it.
 */
public final class MegatronCommonState {
  private MegatronCommonState() {}

  /**
   * Where a checkpoint keeps its common state (docs/formats.md §3.8). {@link #LEGACY}: the file {@code common.pt},
   * which every Megatron ≥ v0.16 reads (v0.19+ with a deprecation warning) and slime's pin needs.
   * {@link #SHARDED}: as Megatron ≥ v0.19 saves it, the bytes item {@link #SHARDED_KEY} in the DCP files holding
   * {@code torch.save([common dict])}, no {@code common.pt} and the 2-field {@code metadata.json}; Megatron ≤ v0.18
   * cannot load it.
   */
  public enum Storage {
    LEGACY,
    SHARDED
  }

  /** The ShardedObject key of the common state in the DCP files (one object, offset 0 of 1). */
  public static final String SHARDED_KEY = "common_state/shard_0_1";

  /** {@code checkpoint_version} 3.0 as every current Megatron writes. */
  public static final double CHECKPOINT_VERSION = 3.0;

  /**
   * {@code {'checkpoint_version': 3.0, 'iteration': iteration}} — enough for a release load (docs/formats.md §3.8).
   */
  public static PyDict minimal(long iteration) {
    Map<String, PickleValue> fields = new LinkedHashMap<>();
    fields.put("checkpoint_version", new PyFloat(CHECKPOINT_VERSION));
    fields.put("iteration", PyInt.of(iteration));
    return PyDict.ofStrings(fields);
  }

  /** {@link #minimal} plus {@code args}: an {@code argparse.Namespace} with the given attributes. */
  public static PyDict withArgs(long iteration, Map<String, ? extends PickleValue> args) {
    Map<String, PickleValue> fields = new LinkedHashMap<>();
    fields.put("args", namespace(args));
    fields.put("checkpoint_version", new PyFloat(CHECKPOINT_VERSION));
    fields.put("iteration", PyInt.of(iteration));
    return PyDict.ofStrings(fields);
  }

  /** {@code argparse.Namespace(**attributes)} as pickled: NEWOBJ then BUILD with the attribute dict. */
  public static PyObject namespace(Map<String, ? extends PickleValue> attributes) {
    return PyObject.newWithState(new PyGlobal("argparse", "Namespace"), PyDict.ofStrings(attributes));
  }
}
