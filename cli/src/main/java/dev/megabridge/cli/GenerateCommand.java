package dev.megabridge.cli;

import dev.megabridge.core.convert.ShardsManifest;
import dev.megabridge.core.error.UsageException;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.runtime.qwen35.GenerationResult;
import dev.megabridge.runtime.qwen35.GridThw;
import dev.megabridge.runtime.qwen35.ImageInput;
import dev.megabridge.runtime.qwen35.ImagePreprocessor;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.Sampling;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Token generation with the KV cache and the Gated DeltaNet recurrent state. */
@Command(name = "generate", mixinStandardHelpOptions = true,
    description = "Generate tokens after a prompt of token ids (greedy, or sampled with --temperature/--top-p), "
        + "with KV cache and recurrent state; prints the tokens and tokens/s. MODEL is an HF or Megatron shards folder.")
public final class GenerateCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder or Megatron shards folder (with megabridge.json).")
  Path model;

  @Option(names = "--prompt-ids", required = true, split = ",", description = "Prompt token ids, e.g. 1,2,3.")
  long[] promptIds;

  @Option(names = "--image", description = "Image file (PNG, JPEG, …). A single image placeholder token in the "
      + "prompt is expanded to the image's feature count.")
  Path image;

  @Option(names = "--max-new-tokens", defaultValue = "16", description = "Tokens to generate (default ${DEFAULT-VALUE}).")
  int maxNewTokens;

  @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default ${DEFAULT-VALUE}).")
  double temperature;

  @Option(names = "--top-p", defaultValue = "1", description = "Nucleus sampling mass (default ${DEFAULT-VALUE}).")
  double topP;

  @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--stop-ids", split = ",", description = "Stop after any of these token ids.")
  long[] stopIds;

  @Spec
  CommandSpec spec;

  @Mixin
  ComputeThreadsOption threads;

  @Mixin
  CommonOptions common;

  @Override
  public Integer call() {
    Output.existingDirectory(model, "model folder");
    if (maxNewTokens < 1) {
      throw new UsageException("--max-new-tokens must be positive, got " + maxNewTokens);
    }
    if (temperature < 0 || !(topP > 0 && topP <= 1)) {
      throw new UsageException("--temperature must be >= 0 and --top-p in (0, 1]");
    }
    if (temperature == 0) {
      for (String sampling : List.of("--top-p", "--seed")) {
        if (spec.commandLine().getParseResult().hasMatchedOption(sampling)) {
          throw new UsageException(sampling + " applies to sampling only; with --temperature 0 decoding is greedy");
        }
      }
    }
    if (image != null && !Files.isRegularFile(image)) {
      throw new UsageException("--image " + image + " is not a file");
    }
    Set<Long> stops = stopIds == null ? Set.of() : Arrays.stream(stopIds).boxed().collect(Collectors.toSet());
    Sampling sampling = new Sampling(temperature, topP, seed, stops);
    GenerationResult result;
    long[] prompt;
    try (Qwen35Model loaded = Qwen35Model.load(model, threads.runtimeOptions())) {
      Optional<ImageInput> pixels = Optional.empty();
      prompt = promptIds;
      if (image != null) {
        Path small = ShardsManifest.isPresent(model) ? model.resolve(ShardsManifest.HF_FILES_DIR) : model;
        ImageInput input = ImagePreprocessor.load(small).process(image);
        prompt = expandImagePlaceholder(promptIds, loaded.config().imageTokenId(), features(input,
            loaded.config().vision().map(Qwen35Config.VisionConfig::spatialMergeSize).orElse(2)));
        pixels = Optional.of(input);
      }
      result = loaded.generate(prompt, pixels, maxNewTokens, sampling);
    }
    Map<String, Object> report = new LinkedHashMap<>();
    report.put("command", "generate");
    report.put("source", ForwardCommand.source(model));
    report.put("prompt_tokens", prompt.length);
    report.put("tokens", result.tokens());
    report.put("prefill_tokens_per_second", result.prefillTokensPerSecond());
    report.put("decode_tokens_per_second", result.decodeTokensPerSecond());
    report.put("seconds", (result.prefillNanos() + result.decodeNanos()) / 1e9);
    if (common.json) {
      Output.json(report);
    } else {
      System.out.println(Arrays.stream(result.tokens()).mapToObj(Long::toString).collect(Collectors.joining(",")));
      System.out.printf(Locale.ROOT, "%d prompt tokens, %d generated (%s): prefill %.1f tokens/s, decode %.2f tokens/s%n",
          prompt.length, result.tokens().length, report.get("source"), result.prefillTokensPerSecond(),
          result.decodeTokensPerSecond());
    }
    return 0;
  }

  /** Image feature rows after the spatial merge: Σ t·h·w / merge². */
  static int features(ImageInput input, int merge) {
    int total = 0;
    for (GridThw grid : input.grids()) {
      total += grid.frames() * grid.height() * grid.width() / (merge * merge);
    }
    return total;
  }

  /** The prompt with its single image placeholder repeated {@code count} times (kept if already expanded). */
  static long[] expandImagePlaceholder(long[] prompt, long imageToken, int count) {
    int placeholders = (int) Arrays.stream(prompt).filter(id -> id == imageToken).count();
    if (placeholders == count) {
      return prompt;
    }
    if (placeholders != 1) {
      throw new UsageException("--image needs one image placeholder token " + imageToken + " in --prompt-ids (or "
          + count + " of them), found " + placeholders);
    }
    long[] expanded = new long[prompt.length - 1 + count];
    int at = 0;
    for (long id : prompt) {
      if (id == imageToken) {
        Arrays.fill(expanded, at, at + count, imageToken);
        at += count;
      } else {
        expanded[at++] = id;
      }
    }
    return expanded;
  }
}
