package dev.megabridge.qwen35.bridge;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.Exporter;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.torchdist.TorchDistImporter;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/** Builds mutated copies of fixture checkpoints and configs in a temporary folder. */
public final class TestCheckpoints {
  private TestCheckpoints() {}

  /** Copies {@code source}'s config (edited) and tensors (edited) into {@code target} as one safetensors file. */
  public static Path rewrite(Path source, Path target, Consumer<ObjectNode> configEdit,
      Consumer<Map<String, Tensor>> tensorEdit) {
    writeConfig(source, target, configEdit);
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(source)) {
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      for (String name : checkpoint.names()) {
        tensors.put(name, checkpoint.tensor(name));
      }
      tensorEdit.accept(tensors);
      List<SafetensorsWriter.Entry> entries = new ArrayList<>();
      tensors.forEach((name, tensor) -> entries.add(new SafetensorsWriter.Entry(name, tensor)));
      SafetensorsWriter.writeFile(target.resolve(SafetensorsCheckpoint.SINGLE_FILE), entries, bytes -> { });
    }
    return target;
  }

  /** Writes {@code source/config.json}, edited, as {@code target/config.json} (and nothing else). */
  public static Path writeConfig(Path source, Path target, Consumer<ObjectNode> edit) {
    try {
      Files.createDirectories(target);
      ObjectNode config = HfConfig.load(source).raw().deepCopy();
      edit.accept(config);
      Files.writeString(target.resolve(HfConfig.FILE_NAME), HfConfig.JSON.writerWithDefaultPrettyPrinter()
          .writeValueAsString(config));
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static ObjectNode textConfig(ObjectNode config) {
    return (ObjectNode) config.get("text_config");
  }

  /** HF folder {@code hf} → torch_dist save folder {@code output} for {@code requested}, as {@code import} writes it. */
  public static Path importTorchDist(Path hf, Path output, ParallelLayout requested, BridgeOptions options) {
    try (CheckpointSource source = CheckpointSource.openHf(hf)) {
      TorchDistImporter.write(source, output, new TorchDistImporter.Options(requested, options, false, 2),
          AutoBridge.discover(), Progress.NONE);
    }
    return output;
  }

  /** torch_dist → HF folder {@code output}, as {@code export} writes it ({@code hfConfig} for a foreign save). */
  public static void exportHf(Path torchDist, Optional<Path> hfConfig, Path output) {
    AutoBridge autoBridge = AutoBridge.discover();
    try (CheckpointSource source = CheckpointSource.openTorchDist(torchDist, hfConfig, autoBridge)) {
      Exporter.write(source, output, new Exporter.Options(Optional.empty(), Optional.empty(), false), autoBridge,
          Progress.NONE);
    }
  }
}
