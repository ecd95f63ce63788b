package dev.megabridge.runtime.qwen35;

/** Sees every generation step: the logits the token was chosen from (a copy it may keep) and the token. */
@FunctionalInterface
public interface StepObserver {

  StepObserver NONE = (step, token, logits) -> {};

  void onStep(int step, long token, float[] logits);
}
