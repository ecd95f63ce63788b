package dev.megabridge.core.convert.torchdist;

import dev.megabridge.core.convert.CheckpointSource;
import dev.megabridge.core.convert.HfTensorInfo;
import dev.megabridge.core.convert.Progress;
import dev.megabridge.core.convert.ShardPlan;
import dev.megabridge.core.io.OutputDirectory;
import dev.megabridge.core.io.pickle.PickleValue.PyDict;
import dev.megabridge.core.io.pickle.PickleValue.PyInt;
import dev.megabridge.core.io.pickle.PickleValue.PyNone;
import dev.megabridge.core.io.pickle.PickleValue;
import dev.megabridge.core.io.safetensors.SafetensorsWriter;
import dev.megabridge.core.io.torchdist.MegatronCommonState;
import dev.megabridge.core.io.torchdist.TorchDistWriter;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.report.ByteSizes;
import dev.megabridge.core.report.Report;
import dev.megabridge.core.spi.AutoBridge;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Any checkpoint source → torch_dist save folder ({@code import --format torch_dist}, {@code convert --format
 * torch_dist}): the HF view cut into TP=1 chunks under the bridge's {@link TorchDistScheme}, with the common state and
 * the sidecar that lets {@code export} run without an HF config. Streamed from lazy views; the folder appears
 * atomically.
 */
public final class TorchDistImporter {

  private TorchDistImporter() {}

  /**
   * @param requestedLayout validated against the model and recorded; the chunking is always TP=1
   *     (docs/formats.md §3.9)
   * @param dataFiles how many {@code .distcp} files the items are spread over (written in parallel)
   * @param commonState {@code common.pt} (legacy, the default) or Megatron v0.19's bytes item
   */
  public record Options(ParallelLayout requestedLayout, BridgeOptions bridgeOptions, boolean overwrite,
      int dataFiles, MegatronCommonState.Storage commonState) {

    /** With the legacy {@code common.pt}. */
    public Options(ParallelLayout requestedLayout, BridgeOptions bridgeOptions, boolean overwrite,
        int dataFiles) {
      this(requestedLayout, bridgeOptions, overwrite, dataFiles, MegatronCommonState.Storage.LEGACY);
    }
  }

  public record Summary(String architecture, String requestedLayout, int tensorKeys, int chunks,
      int extraStateObjects, long bytesWritten, Path checkpointDirectory, String schema) implements Report {
    @Override
    public String describe() {
      return String.format(Locale.ROOT, "wrote %s torch_dist (%s schema) → %s: %d keys (%d chunks, TP=1; requested %s), "
          + "%d extra-state objects, %s", architecture, schema, checkpointDirectory, tensorKeys, chunks, requestedLayout,
          extraStateObjects, ByteSizes.format(bytesWritten));
    }
  }

  /** HF tensors → torch_dist save folder ({@code release/} + tracker) with the sidecar for config-less export. */
  public static Summary write(CheckpointSource source, Path output, Options options,
      AutoBridge autoBridge, Progress progress) {
    // The chunks are TP=1, but a padded vocabulary is padded for the TP of the run that will load it
    // (docs/formats.md §3.15).
    BridgeOptions bridgeOptions = options.bridgeOptions().withVocabPadding(
        options.bridgeOptions().vocabPadding().atTensorParallel(options.requestedLayout().tp()));
    BridgeModel model = autoBridge.fromConfig(source.config(),
        Optional.of(new LinkedHashSet<>(source.infoMap().keySet())), bridgeOptions);
    Map<String, HfTensorInfo> infos = source.infoMap();
    // The requested layout is checked in full (divisibility, stages, experts) though the chunks are TP=1.
    ShardPlan.build(model, options.requestedLayout(), infos);
    ShardPlan plan = ShardPlan.build(model, ParallelLayout.single(), infos);
    TorchDistScheme scheme = TorchDistScheme.of(model);
    TorchDistWriter.Contents contents = TorchDistKeys.contents(plan, scheme, source.tensors(), commonState(model));
    List<SafetensorsWriter.Entry> narrowed = TorchDistKeys.narrowedOriginals(plan, scheme, source.tensors());
    TorchDistSidecar sidecar = new TorchDistSidecar(model.architecture(), model.bridge().name(),
        options.requestedLayout(), options.bridgeOptions(), source.config().raw(), source.smallFiles(), source.infos());
    long bytes = contents.tensors().stream().flatMap(entry -> entry.chunks().stream())
        .mapToLong(chunk -> chunk.data().byteSize()).sum();
    progress.start("import torch_dist", bytes);
    TorchDistWriter.Summary written;
    OutputDirectory.requireApart(output.toAbsolutePath().normalize(), source.inputs());
    try {
      written = TorchDistWriter.writeRelease(output, contents,
          new TorchDistWriter.Options(options.dataFiles(), options.commonState()), options.overwrite(),
          progress::advance, directory -> {
            sidecar.write(directory, source.smallFilesDirectory());
            if (!narrowed.isEmpty()) {
              SafetensorsWriter.writeFile(directory.resolve(TorchDistSidecar.NARROWED_FILE), narrowed,
                  narrowedBytes -> {});
            }
          });
    } finally {
      progress.finish();
    }
    int chunks = contents.tensors().stream().mapToInt(entry -> entry.chunks().size()).sum();
    return new Summary(model.architecture(), options.requestedLayout().describe(), contents.tensors().size(),
        chunks, contents.bytesItems().size(), bytes, written.checkpointDirectory(), bridgeOptions.schema().id());
  }

  /**
   * Common state (docs/formats.md §3.8): {@code checkpoint_version} 3.0, iteration 0 and the {@code args} that
   * Megatron checks against its run when present ({@code num_layers}, {@code hidden_size},
   * {@code num_attention_heads}), the fields slime's exporter reads, and the TP/PP sizes of the stored chunking.
   */
  static PyDict commonState(BridgeModel model) {
    Map<String, PickleValue> args = new LinkedHashMap<>();
    Map<String, Object> provider = model.provider();
    for (String field : List.of("num_layers", "hidden_size", "num_attention_heads")) {
      if (provider.get(field) instanceof Number number) {
        args.put(field, PyInt.of(number.longValue()));
      }
    }
    if (args.size() < 3) {
      return MegatronCommonState.minimal(0);
    }
    // What slime's convert_torch_dist_to_hf.py reads from args (docs/formats.md §3.3, §3.8).
    for (String field : List.of("num_query_groups", "kv_channels", "vocab_size")) {
      if (provider.get(field) instanceof Number number) {
        args.put(field, PyInt.of(number.longValue()));
      }
    }
    if (provider.get("vocab_size") instanceof Number vocab) {
      args.put("padded_vocab_size", PyInt.of(model.options().vocabPadding().rows(vocab.longValue(), 1)));
    }
    args.put("num_experts", model.numExperts() > 0 ? PyInt.of(model.numExperts()) : PyNone.INSTANCE);
    args.put("q_lora_rank", PyNone.INSTANCE);
    args.put("tensor_model_parallel_size", PyInt.of(1));
    args.put("pipeline_model_parallel_size", PyInt.of(1));
    return MegatronCommonState.withArgs(0, args);
  }
}
