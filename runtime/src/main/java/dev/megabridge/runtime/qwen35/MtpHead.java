package dev.megabridge.runtime.qwen35;

import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.Functions;
import dev.megabridge.runtime.ops.Linear;

/**
 * The multi-token-prediction head (docs/model.md §3.8): for position t,
 * {@code u = fc(concat(RMSNorm₁₊(embed[x_{t+1}]), RMSNorm₁₊(h_t)))}, one full-attention decoder layer over the MTP
 * sequence with the position ids of token t, then {@code RMSNorm₁₊(·; mtp.norm)}; the caller applies lm_head.
 */
final class MtpHead {

  static final String PREFIX = "mtp.";

  private final float[] embeddingNorm;
  private final float[] hiddenNorm;
  private final float[] finalNorm;
  private final Linear fc;
  private final DecoderLayer layer;
  private final float eps;
  private final int hidden;

  MtpHead(ModelWeights weights, TextConfig text, boolean moe, TextRotary rotary) {
    this.embeddingNorm = weights.floats(PREFIX + "pre_fc_norm_embedding.weight");
    this.hiddenNorm = weights.floats(PREFIX + "pre_fc_norm_hidden.weight");
    this.finalNorm = weights.floats(PREFIX + "norm.weight");
    this.fc = weights.linear(PREFIX + "fc.weight");
    this.hidden = text.hiddenSize();
    Shapes.check(fc, hidden, 2 * hidden, PREFIX + "fc");
    this.layer = DecoderLayer.load(weights, PREFIX + "layers.0.", text, true, moe, rotary);
    this.eps = (float) text.rmsNormEps();
  }

  static boolean present(ModelWeights weights) {
    return weights.contains(PREFIX + "fc.weight");
  }

  /**
   * Normalised MTP hidden states {@code [rows, H]} for {@code rows} positions: {@code nextEmbeddings} row t is the
   * embedding of token t+1, {@code finalHidden} row t the main model's post-norm hidden state of token t.
   */
  float[] forward(Compute compute, float[] nextEmbeddings, float[] finalHidden, int rows, PositionIds positions,
      ForwardTrace trace) {
    float[] joined = new float[rows * 2 * hidden];
    for (int row = 0; row < rows; row++) {
      Functions.rmsNormRow(nextEmbeddings, row * hidden, hidden, embeddingNorm, true, eps, joined, row * 2 * hidden);
      Functions.rmsNormRow(finalHidden, row * hidden, hidden, hiddenNorm, true, eps, joined,
          row * 2 * hidden + hidden);
    }
    float[] state = new float[rows * hidden];
    fc.apply(compute, joined, rows, state);
    trace.snapshot("mtp.fc_out", state, rows, hidden);
    layer.forward(compute, state, rows, positions, layer.mixer().newState(), trace, "mtp.L0");
    float[] normed = new float[rows * hidden];
    Functions.rmsNormZeroCentred(state, rows, hidden, finalNorm, eps, normed);
    trace.snapshot("mtp.final_norm", normed, rows, hidden);
    return normed;
  }
}
