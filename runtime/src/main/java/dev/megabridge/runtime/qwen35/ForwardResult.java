package dev.megabridge.runtime.qwen35;

import dev.megabridge.runtime.ops.FloatMatrix;
import java.util.Optional;

/**
 * Logits {@code [L, V]} of every prompt position, MTP logits {@code [L−1, V]} (row t predicts token t+2; absent when
 * the checkpoint has no {@code mtp.*} weights) and the M-RoPE position ids used.
 */
public record ForwardResult(FloatMatrix logits, Optional<FloatMatrix> mtpLogits, PositionIds positions) {}
