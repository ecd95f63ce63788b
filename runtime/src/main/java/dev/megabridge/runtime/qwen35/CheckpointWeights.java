package dev.megabridge.runtime.qwen35;

import dev.megabridge.core.error.CheckpointFormatException;
import dev.megabridge.core.io.TensorSource;
import dev.megabridge.core.tensor.Tensor;
import java.util.function.Predicate;

/**
 * {@link ModelWeights} over a Hugging Face safetensors folder (single or sharded). Tensors stay zero-copy views of
 * the mapped files. Accepts the text-only prefix {@code model.} for canonical {@code model.language_model.} names
 * (docs/model.md §2.1).
 */
public final class CheckpointWeights implements ModelWeights {

  private static final String LANGUAGE_PREFIX = "model.language_model.";

  private final TensorSource source;
  private final RowKinds rowKinds;

  public CheckpointWeights(TensorSource source, RowKinds rowKinds) {
    this.source = source;
    this.rowKinds = rowKinds;
  }

  @Override
  public RowKinds rowKinds() {
    return rowKinds;
  }

  private String resolve(String name) {
    return resolve(name, source::contains);
  }

  /** {@code name} as stored ({@code present} tells what is), or null: canonical or text-only language prefix. */
  static String resolve(String name, Predicate<String> present) {
    if (present.test(name)) {
      return name;
    }
    if (name.startsWith(LANGUAGE_PREFIX)) {
      String textOnly = "model." + name.substring(LANGUAGE_PREFIX.length());
      if (present.test(textOnly)) {
        return textOnly;
      }
    }
    return null;
  }

  @Override
  public boolean contains(String name) {
    return resolve(name) != null;
  }

  @Override
  public Tensor tensor(String name) {
    String resolved = resolve(name);
    if (resolved == null) {
      throw new CheckpointFormatException("checkpoint has no tensor " + name);
    }
    return source.tensor(resolved);
  }
}
