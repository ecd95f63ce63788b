package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.core.tensor.StridedTensor;
import dev.megabridge.core.tensor.Tensor;
import dev.megabridge.runtime.ops.FloatMatrix;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * File-to-file forward pass: reads {@code input_ids} (I64 [L]) and optionally {@code pixel_values}
 * (F32 [N, C·T·P·P]) with {@code image_grid_thw} (I64 [n, 3]) from a safetensors file, writes {@code logits}
 * (F32 [L, V]) and, when the model has an MTP head, {@code mtp_logits} (F32 [L−1, V]).
 */
public final class ForwardFiles {

  private ForwardFiles() {}

  /** Reads the model inputs of {@code input}. */
  public static Inputs readInputs(Path input) {
    Path directory = input.toAbsolutePath().getParent();
    try (SafetensorsCheckpoint source = SafetensorsCheckpoint.openFiles(directory, List.of(input))) {
      if (!source.contains("input_ids")) {
        throw new UsageException(input + ": no input_ids tensor");
      }
      StridedTensor ids = source.tensor("input_ids");
      long[] inputIds = new long[Math.toIntExact(ids.numel())];
      for (int i = 0; i < inputIds.length; i++) {
        inputIds[i] = ids.getLong(i);
      }
      Optional<ImageInput> image = Optional.empty();
      if (source.contains("pixel_values")) {
        if (!source.contains("image_grid_thw")) {
          throw new UsageException(input + ": pixel_values without image_grid_thw");
        }
        StridedTensor pixels = source.tensor("pixel_values");
        StridedTensor grid = source.tensor("image_grid_thw");
        List<GridThw> grids = new ArrayList<>();
        for (int i = 0; i + 2 < grid.numel(); i += 3) {
          grids.add(new GridThw((int) grid.getLong(i), (int) grid.getLong(i + 1), (int) grid.getLong(i + 2)));
        }
        image = Optional.of(new ImageInput(pixels.toFloatArray(), (int) pixels.shape().dim(1), grids));
      }
      return new Inputs(inputIds, image);
    }
  }

  /** Model inputs of one sequence. */
  public record Inputs(long[] inputIds, Optional<ImageInput> image) {}

  /**
   * Runs {@code model} on {@code input} and writes the logits to {@code output}: refused if it exists unless
   * {@code overwrite}; written beside it and renamed into place, so a partial file is never left behind.
   */
  public static ForwardResult run(Qwen35Model model, Path input, Path output, boolean overwrite) {
    if (Files.exists(output) && !overwrite) {
      throw new UsageException(output + " already exists (pass --overwrite to replace it)");
    }
    Inputs inputs = readInputs(input);
    ForwardResult result = model.forward(inputs.inputIds(), inputs.image());
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    entries.add(new SafetensorsWriter.Entry("logits", tensor(result.logits())));
    result.mtpLogits().ifPresent(mtp -> entries.add(new SafetensorsWriter.Entry("mtp_logits", tensor(mtp))));
    Path absolute = output.toAbsolutePath();
    Path partial = absolute.resolveSibling("." + absolute.getFileName() + ".partial-" + ProcessHandle.current().pid());
    try {
      Files.deleteIfExists(partial);
      SafetensorsWriter.writeFile(partial, entries, bytes -> {});
      Files.move(partial, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("writing " + output + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(partial);
      } catch (IOException ignored) {
        // best effort: the rename succeeded or the original error is more useful
      }
    }
    return result;
  }

  /** What a forward run from files did: the model folder, how it was loaded, the logits' size, the output file. */
  public record Summary(Path model, String source, int tokens, int vocabulary, boolean mtpLogits, Path output,
      double seconds) implements Report {

    @Override
    public String describe() {
      return String.format(Locale.ROOT, "forward (%s): %d tokens × %d logits%s → %s in %.2f s", source, tokens,
          vocabulary, mtpLogits ? " + MTP logits" : "", output, seconds);
    }
  }

  /**
   * Loads {@code modelDirectory} (HF folder, Megatron shards or torch_dist; {@code hfConfig} for a torch_dist
   * checkpoint megabridge did not write) and runs {@link #run(Qwen35Model, Path, Path, boolean)}, timed from the load.
   */
  public static Summary run(Path modelDirectory, Optional<Path> hfConfig, Path input, Path output,
      RuntimeOptions options, boolean overwrite) {
    long start = System.nanoTime();
    try (Qwen35Model model = Qwen35Model.load(modelDirectory, hfConfig, options)) {
      ForwardResult result = run(model, input, output, overwrite);
      return new Summary(modelDirectory, model.origin(), result.logits().rows(), model.vocabularySize(),
          result.mtpLogits().isPresent(), output, (System.nanoTime() - start) / 1e9);
    }
  }

  private static Tensor tensor(FloatMatrix matrix) {
    return Tensor.ofFloats(Shape.of(matrix.rows(), matrix.columns()), matrix.data());
  }
}
