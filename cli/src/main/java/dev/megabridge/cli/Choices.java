package dev.megabridge.cli;

import dev.megabridge.core.convert.HfExpertLayout;
import dev.megabridge.core.io.torchdist.MegatronCommonState;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.MtpNaming;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.tensor.DType;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The closed choices of the command line, each a picocli type with its spelling: an unknown value is refused by
 * picocli (exit 2) with the option and the accepted spellings, before the command runs.
 */
final class Choices {
  private Choices() {}

  /** Maps the spellings given on the command line to constants, in the order they are listed. */
  abstract static class Converter<T> implements ITypeConverter<T> {
    private final Map<String, T> spellings = new LinkedHashMap<>();

    Converter(T[] constants, Function<T, String> spelling) {
      for (T constant : constants) {
        spellings.put(spelling.apply(constant), constant);
      }
    }

    @Override
    public T convert(String value) {
      T constant = spellings.get(value);
      if (constant == null) {
        throw new TypeConversionException("expected " + String.join(" or ", spellings.keySet()) + ", got '" + value
            + "'");
      }
      return constant;
    }
  }

  /** A Megatron checkpoint form to write. */
  enum MegatronFormat {
    SHARDS("shards"),
    TORCH_DIST("torch_dist");

    final String spelling;

    MegatronFormat(String spelling) {
      this.spelling = spelling;
    }

    static final class Converter extends Choices.Converter<MegatronFormat> {
      Converter() {
        super(values(), format -> format.spelling);
      }
    }
  }

  /**
   * The dtype an export writes floating tensors in: {@code source}, the HF source's (recorded by import, or for a
   * torch_dist checkpoint megabridge did not write, from {@code --hf-config}); {@code keep}, as the checkpoint
   * stores them (the same, except for such a torch_dist checkpoint); or one dtype.
   */
  enum ExportDtype {
    SOURCE("source", Optional.empty()),
    KEEP("keep", Optional.empty()),
    BF16("bf16", Optional.of(DType.BF16)),
    FP32("fp32", Optional.of(DType.F32));

    final String spelling;
    final Optional<DType> dtype;

    ExportDtype(String spelling, Optional<DType> dtype) {
      this.spelling = spelling;
      this.dtype = dtype;
    }

    static final class Converter extends Choices.Converter<ExportDtype> {
      Converter() {
        super(values(), choice -> choice.spelling);
      }
    }
  }

  /** What {@code provider} prints. */
  enum ProviderFormat {
    JSON("json"),
    MEGATRON_ARGS("megatron-args");

    final String spelling;

    ProviderFormat(String spelling) {
      this.spelling = spelling;
    }

    static final class Converter extends Choices.Converter<ProviderFormat> {
      Converter() {
        super(values(), format -> format.spelling);
      }
    }
  }

  static final class MtpNamingConverter extends Converter<MtpNaming> {
    MtpNamingConverter() {
      super(MtpNaming.values(), naming -> naming == MtpNaming.CURRENT ? "current" : "legacy");
    }
  }

  static final class ExpertNamingConverter extends Converter<ExpertNaming> {
    ExpertNamingConverter() {
      super(ExpertNaming.values(), naming -> naming == ExpertNaming.GROUPED ? "grouped" : "sequential");
    }
  }

  static final class HfExpertLayoutConverter extends Converter<HfExpertLayout> {
    HfExpertLayoutConverter() {
      super(HfExpertLayout.values(), HfExpertLayout::spelling);
    }
  }

  static final class CommonStateConverter extends Converter<MegatronCommonState.Storage> {
    CommonStateConverter() {
      super(MegatronCommonState.Storage.values(), storage -> storage == MegatronCommonState.Storage.LEGACY ? "legacy"
          : "sharded");
    }
  }

  static final class SchemaConverter extends Converter<Schema> {
    SchemaConverter() {
      super(Schema.values(), Schema::id);
    }
  }
}
