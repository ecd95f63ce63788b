package dev.megabridge.cli;

import dev.megabridge.core.error.UsageException;
import dev.megabridge.qwen35.Qwen35Config;
import dev.megabridge.core.report.CommandReport;
import dev.megabridge.runtime.qwen35.GenerationReport;
import dev.megabridge.runtime.qwen35.GenerationResult;
import dev.megabridge.runtime.qwen35.GridThw;
import dev.megabridge.runtime.qwen35.ImageInput;
import dev.megabridge.runtime.qwen35.ImagePreprocessor;
import dev.megabridge.runtime.tokenizer.BpeTokenizer;
import dev.megabridge.runtime.tokenizer.ChatPrompt;
import dev.megabridge.runtime.qwen35.Qwen35Model;
import dev.megabridge.runtime.qwen35.Sampling;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
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
        + "with KV cache and recurrent state; prints the tokens and tokens/s. MODEL is an HF folder, a Megatron "
        + "shards folder or a torch_dist checkpoint.")
public final class GenerateCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "HF folder, Megatron shards folder or torch_dist checkpoint.")
  Path model;

  @Option(names = "--prompt-ids", split = ",", description = "Prompt token ids, e.g. 1,2,3.")
  long[] promptIds;

  @Option(names = "--prompt", description = "Prompt text, encoded with the model's tokenizer.json (instead of "
      + "--prompt-ids); the generated tokens are printed as text too.")
  String promptText;

  @Option(names = "--chat", description = "With --prompt: wrap the text (and --image) in Qwen3.5's ChatML user turn.")
  boolean chat;

  @Mixin
  HfConfigOption hfConfig;

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
    if ((promptIds == null) == (promptText == null)) {
      throw new UsageException("give the prompt as --prompt-ids or as --prompt (one of them)");
    }
    if (chat && promptText == null) {
      throw new UsageException("--chat applies to --prompt");
    }
    if (promptText != null && image != null && !chat) {
      throw new UsageException("--image with --prompt needs --chat (the image goes into the ChatML user turn)");
    }
    Optional<Path> config = hfConfig.folder();
    Set<Long> stops = stopIds == null ? Set.of() : Arrays.stream(stopIds).boxed().collect(Collectors.toSet());
    Sampling sampling = new Sampling(temperature, topP, seed, stops);
    GenerationReport report;
    Optional<BpeTokenizer> tokenizer = Optional.empty();
    try (Qwen35Model loaded = Qwen35Model.load(model, config, threads.runtimeOptions())) {
      Path small = Qwen35Model.smallFilesDirectory(model, config);
      Optional<ImageInput> pixels = Optional.empty();
      long[] prompt;
      int merge = loaded.config().vision().map(Qwen35Config.VisionConfig::spatialMergeSize).orElse(2);
      if (image != null) {
        pixels = Optional.of(ImagePreprocessor.load(small).process(image));
      }
      if (promptText != null) {
        tokenizer = Optional.of(BpeTokenizer.load(small));
        int[] ids = chat ? ChatPrompt.forModel(tokenizer.get(), loaded.config()).user(promptText,
            pixels.map(input -> new int[] {features(input, merge)}).orElse(new int[0]))
            : tokenizer.get().encode(promptText);
        prompt = Arrays.stream(ids).asLongStream().toArray();
      } else {
        prompt = pixels.isPresent()
            ? expandImagePlaceholder(promptIds, loaded.config().imageTokenId(), features(pixels.get(), merge))
            : promptIds;
      }
      GenerationResult result = loaded.generate(prompt, pixels, maxNewTokens, sampling);
      report = GenerationReport.of(loaded.origin(), prompt.length, result,
          tokenizer.flatMap(bpe -> decoded(bpe, result.tokens())));
    }
    Output.print(common, new CommandReport("generate", report));
    return 0;
  }

  /**
   * The generated ids as text, or empty (with a note on stderr) when the model produced an id the tokenizer does
   * not have (a padded vocabulary row).
   */
  private static Optional<String> decoded(BpeTokenizer tokenizer, long[] tokens) {
    int[] ids = new int[tokens.length];
    for (int index = 0; index < tokens.length; index++) {
      if (tokens[index] > Integer.MAX_VALUE || !tokenizer.knows((int) tokens[index])) {
        System.err.println("note: token " + tokens[index] + " is outside the tokenizer; printing ids only");
        return Optional.empty();
      }
      ids[index] = (int) tokens[index];
    }
    return Optional.of(tokenizer.decode(ids));
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
