package dev.megabridge.core.io.torchdist;

import dev.megabridge.core.io.pickle.PickleValue.PyGlobal;
import dev.megabridge.core.tensor.DType;
import java.util.Optional;

/** The spellings of element types inside torch pickles (docs/formats.md §3.5 dtype globals, §3.7 storage classes). */
public final class TorchDtypes {
  private TorchDtypes() {}

  /** The {@code torch.<name>} dtype attribute. */
  public static String torchName(DType dtype) {
    return switch (dtype) {
      case F64 -> "float64";
      case F32 -> "float32";
      case F16 -> "float16";
      case BF16 -> "bfloat16";
      case F8_E4M3 -> "float8_e4m3fn";
      case F8_E5M2 -> "float8_e5m2";
      case I64 -> "int64";
      case I32 -> "int32";
      case I16 -> "int16";
      case I8 -> "int8";
      case U8 -> "uint8";
      case BOOL -> "bool";
    };
  }

  /** {@code GLOBAL torch <name>}. */
  public static PyGlobal dtypeGlobal(DType dtype) {
    return new PyGlobal("torch", torchName(dtype));
  }

  /** Parses a {@code torch.<name>} global, accepting torch's aliases (float, half, long, …). */
  public static Optional<DType> fromTorchGlobal(PyGlobal global) {
    if (!global.module().equals("torch")) {
      return Optional.empty();
    }
    return switch (global.name()) {
      case "float64", "double" -> Optional.of(DType.F64);
      case "float32", "float" -> Optional.of(DType.F32);
      case "float16", "half" -> Optional.of(DType.F16);
      case "bfloat16" -> Optional.of(DType.BF16);
      case "float8_e4m3fn" -> Optional.of(DType.F8_E4M3);
      case "float8_e5m2" -> Optional.of(DType.F8_E5M2);
      case "int64", "long" -> Optional.of(DType.I64);
      case "int32", "int" -> Optional.of(DType.I32);
      case "int16", "short" -> Optional.of(DType.I16);
      case "int8" -> Optional.of(DType.I8);
      case "uint8" -> Optional.of(DType.U8);
      case "bool" -> Optional.of(DType.BOOL);
      default -> Optional.empty();
    };
  }

  /**
   * The legacy typed-storage class torch.save names in a tensor's persistent id, or empty for dtypes that
   * only have {@code torch.storage.UntypedStorage} + {@code _rebuild_tensor_v3} (the float8 types).
   */
  public static Optional<String> legacyStorageClass(DType dtype) {
    return switch (dtype) {
      case F64 -> Optional.of("DoubleStorage");
      case F32 -> Optional.of("FloatStorage");
      case F16 -> Optional.of("HalfStorage");
      case BF16 -> Optional.of("BFloat16Storage");
      case I64 -> Optional.of("LongStorage");
      case I32 -> Optional.of("IntStorage");
      case I16 -> Optional.of("ShortStorage");
      case I8 -> Optional.of("CharStorage");
      case U8 -> Optional.of("ByteStorage");
      case BOOL -> Optional.of("BoolStorage");
      case F8_E4M3, F8_E5M2 -> Optional.empty();
    };
  }

  /** The dtype of a legacy storage class ({@code torch.FloatStorage} …). */
  public static Optional<DType> fromLegacyStorageClass(PyGlobal global) {
    if (!global.module().equals("torch")) {
      return Optional.empty();
    }
    for (DType dtype : DType.values()) {
      if (legacyStorageClass(dtype).filter(global.name()::equals).isPresent()) {
        return Optional.of(dtype);
      }
    }
    return Optional.empty();
  }
}
