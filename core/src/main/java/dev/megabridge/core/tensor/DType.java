package dev.megabridge.core.tensor;

import java.util.Locale;
import java.util.Optional;

/** Element types of safetensors files, with their byte sizes and exact conversions to and from fp32. */
public enum DType {
  F64(8, true),
  F32(4, true),
  F16(2, true),
  BF16(2, true),
  F8_E4M3(1, true),
  F8_E5M2(1, true),
  I64(8, false),
  I32(4, false),
  I16(2, false),
  I8(1, false),
  U8(1, false),
  BOOL(1, false);

  private final int byteSize;
  private final boolean floating;

  DType(int byteSize, boolean floating) {
    this.byteSize = byteSize;
    this.floating = floating;
  }

  public int byteSize() {
    return byteSize;
  }

  public boolean isFloating() {
    return floating;
  }

  /** The safetensors header spelling (identical to the constant name). */
  public String safetensorsName() {
    return name();
  }

  public static Optional<DType> fromSafetensorsName(String name) {
    for (DType dtype : values()) {
      if (dtype.name().equals(name)) {
        return Optional.of(dtype);
      }
    }
    return Optional.empty();
  }

  /** Parses the CLI/config spellings: bf16, fp16, fp32, float32, bfloat16, ... */
  public static Optional<DType> fromTorchName(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "bf16", "bfloat16", "torch.bfloat16" -> Optional.of(BF16);
      case "fp16", "f16", "float16", "half", "torch.float16" -> Optional.of(F16);
      case "fp32", "f32", "float32", "float", "torch.float32" -> Optional.of(F32);
      case "fp64", "f64", "float64", "double", "torch.float64" -> Optional.of(F64);
      default -> Optional.empty();
    };
  }

  /** bf16 bits (low 16 bits of the argument) to fp32: exact. */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xFFFF) << 16);
  }

  /** fp32 to bf16 with round-to-nearest-even; NaN stays NaN (quiet bit set), infinities stay infinite. */
  public static short floatToBf16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x007FFFFF) != 0) {
      return (short) ((bits >>> 16) | 0x0040);
    }
    int lsb = (bits >>> 16) & 1;
    int rounded = bits + 0x7FFF + lsb;
    return (short) (rounded >>> 16);
  }

  /** fp16 bits to fp32: exact. */
  public static float f16ToFloat(short bits) {
    return Float.float16ToFloat(bits);
  }

  /** fp32 to fp16 with round-to-nearest-even (the JDK implements IEEE rounding). */
  public static short floatToF16(float value) {
    return Float.floatToFloat16(value);
  }
}
