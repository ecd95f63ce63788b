package dev.megabridge.runtime.qwen35;

import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.runtime.ops.Compute;
import dev.megabridge.runtime.ops.Functions;
import dev.megabridge.runtime.ops.KernelOps;
import dev.megabridge.runtime.ops.Linear;
import dev.megabridge.runtime.qwen35.LayerState.DeltaNetState;
import java.util.Arrays;
import java.util.List;

/**
 * Gated DeltaNet (docs/model.md §3.5): projections, causal depthwise conv + SiLU over the q|k|v channels, L2-normalised
 * q/k (q scaled by d_k^-1/2), β = sigmoid(b), g = −exp(A_log)·softplus(a + dt_bias), the per-token delta rule
 * with decay applied first, gated RMSNorm per value head and out_proj. Value head h reads key head
 * ⌊h / (nV/nK)⌋. Prefill runs the same per-token recurrence as decoding, so both paths share one implementation.
 */
final class GatedDeltaNet implements Mixer {

  /**
   * in_proj_qkv, in_proj_z, in_proj_b and in_proj_a fused: per token {@code [q|k|v (convDim), z (valueDim),
   * b (valueHeads), a (valueHeads)]}.
   */
  private final Linear inputProjection;
  private final Linear outputProjection;
  /** conv1d.weight [convDim, 1, K] flattened: channel c, tap j at c·K + j. */
  private final float[] convWeight;
  private final float[] negativeA;
  private final float[] dtBias;
  private final float[] normWeight;
  private final int keyHeads;
  private final int valueHeads;
  private final int keyHeadDim;
  private final int valueHeadDim;
  private final int kernelSize;
  private final int keyDim;
  private final int convDim;
  private final float eps;

  /** Chunk length of the prefill form (transformers' chunk_size). */
  static final int CHUNK = 64;

  GatedDeltaNet(ModelWeights weights, String prefix, TextConfig text) {
    Linear qkvProjection = weights.linear(prefix + "in_proj_qkv.weight");
    Linear gateProjection = weights.linear(prefix + "in_proj_z.weight");
    Linear betaProjection = weights.linear(prefix + "in_proj_b.weight");
    Linear decayProjection = weights.linear(prefix + "in_proj_a.weight");
    this.outputProjection = weights.linear(prefix + "out_proj.weight");
    this.convWeight = weights.floats(prefix + "conv1d.weight");
    float[] aLog = weights.floats(prefix + "A_log");
    this.negativeA = new float[aLog.length];
    for (int head = 0; head < aLog.length; head++) {
      negativeA[head] = (float) -Math.exp(aLog[head]);
    }
    this.dtBias = weights.floats(prefix + "dt_bias");
    this.normWeight = weights.floats(prefix + "norm.weight");
    this.keyHeads = text.linearNumKeyHeads();
    this.valueHeads = text.linearNumValueHeads();
    this.keyHeadDim = text.linearKeyHeadDim();
    this.valueHeadDim = text.linearValueHeadDim();
    this.kernelSize = text.linearConvKernelDim();
    this.keyDim = text.keyDim();
    this.convDim = text.convDim();
    this.eps = (float) text.rmsNormEps();
    int hidden = text.hiddenSize();
    Shapes.check(qkvProjection, convDim, hidden, prefix + "in_proj_qkv");
    Shapes.check(gateProjection, text.valueDim(), hidden, prefix + "in_proj_z");
    Shapes.check(betaProjection, valueHeads, hidden, prefix + "in_proj_b");
    Shapes.check(decayProjection, valueHeads, hidden, prefix + "in_proj_a");
    Shapes.check(outputProjection, hidden, text.valueDim(), prefix + "out_proj");
    this.inputProjection = Linear.concat(List.of(qkvProjection, gateProjection, betaProjection, decayProjection));
    Shapes.check(convWeight, convDim * kernelSize, prefix + "conv1d.weight");
    Shapes.check(aLog, valueHeads, prefix + "A_log");
    Shapes.check(dtBias, valueHeads, prefix + "dt_bias");
    Shapes.check(normWeight, valueHeadDim, prefix + "norm.weight");
  }

  @Override
  public LayerState newState() {
    return new DeltaNetState(kernelSize - 1, convDim, valueHeads * keyHeadDim * valueHeadDim);
  }

  @Override
  public long weightBytes() {
    return inputProjection.weightBytes() + outputProjection.weightBytes();
  }

  @Override
  public void forward(Compute compute, float[] input, int tokens, PositionIds positions, LayerState layerState,
      float[] out) {
    DeltaNetState state = (DeltaNetState) layerState;
    int valueDim = valueHeads * valueHeadDim;
    int width = inputProjection.outFeatures();
    int gateStart = convDim;
    int betaStart = convDim + valueDim;
    int decayStart = betaStart + valueHeads;
    float[] projected = new float[tokens * width];
    inputProjection.apply(compute, input, tokens, projected);

    float[] convolved = convolve(projected, width, tokens, state.convWindow);
    float keyScale = (float) (1.0 / Math.sqrt(keyHeadDim));
    for (int token = 0; token < tokens; token++) {
      for (int head = 0; head < keyHeads; head++) {
        int queryOffset = token * convDim + head * keyHeadDim;
        l2Normalise(convolved, queryOffset, keyHeadDim);
        for (int i = 0; i < keyHeadDim; i++) {
          convolved[queryOffset + i] *= keyScale;
        }
        l2Normalise(convolved, queryOffset + keyDim, keyHeadDim);
      }
    }
    float[] beta = new float[tokens * valueHeads];
    float[] logDecay = new float[tokens * valueHeads];
    for (int index = 0; index < beta.length; index++) {
      int token = index / valueHeads;
      int head = index % valueHeads;
      beta[index] = Functions.sigmoid(projected[token * width + betaStart + head]);
      logDecay[index] = negativeA[head] * Functions.softplus(projected[token * width + decayStart + head]
          + dtBias[head]);
    }

    float[] core = new float[tokens * valueDim];
    int ratio = valueHeads / keyHeads;
    KernelOps ops = compute.ops();
    compute.parallel().forRange(valueHeads, 1, (from, to) -> {
      HeadView view = new HeadView(convolved, beta, logDecay, core, tokens);
      for (int head = from; head < to; head++) {
        view.select(head, head / ratio);
        if (tokens == 1) {
          recurrentStep(ops, state.recurrent, view, 0);
        } else {
          chunked(ops, state.recurrent, view);
        }
      }
    });

    for (int token = 0; token < tokens; token++) {
      for (int head = 0; head < valueHeads; head++) {
        int offset = token * valueDim + head * valueHeadDim;
        Functions.rmsNormRow(core, offset, valueHeadDim, normWeight, false, eps, core, offset);
        for (int i = 0; i < valueHeadDim; i++) {
          core[offset + i] *= Functions.silu(projected[token * width + gateStart + head * valueHeadDim + i]);
        }
      }
    }
    outputProjection.apply(compute, core, tokens, out);
  }

  /** Addresses the q, k, v, β, log-decay and output rows of one value head (and its key head). */
  private final class HeadView {
    final float[] qkv;
    final float[] beta;
    final float[] logDecay;
    final float[] out;
    final int tokens;
    int head;
    int keyHead;

    HeadView(float[] qkv, float[] beta, float[] logDecay, float[] out, int tokens) {
      this.qkv = qkv;
      this.beta = beta;
      this.logDecay = logDecay;
      this.out = out;
      this.tokens = tokens;
    }

    void select(int valueHead, int key) {
      this.head = valueHead;
      this.keyHead = key;
    }

    int query(int token) {
      return token * convDim + keyHead * keyHeadDim;
    }

    int key(int token) {
      return token * convDim + keyDim + keyHead * keyHeadDim;
    }

    int value(int token) {
      return token * convDim + 2 * keyDim + head * valueHeadDim;
    }

    float beta(int token) {
      return beta[token * valueHeads + head];
    }

    float logDecay(int token) {
      return logDecay[token * valueHeads + head];
    }

    int output(int token) {
      return token * valueHeads * valueHeadDim + head * valueHeadDim;
    }

    int state() {
      return head * keyHeadDim * valueHeadDim;
    }
  }

  /**
   * One delta-rule step (the decode path, transformers' recurrent kernel): S ← S·exp(g); m = Sᵀk; δ = β(v − m);
   * S ← S + k⊗δ; o = Sᵀq. S is {@code [d_k, d_v]} row-major.
   */
  private void recurrentStep(KernelOps ops, float[] recurrent, HeadView view, int token) {
    float[] qkv = view.qkv;
    int stateOffset = view.state();
    int queryOffset = view.query(token);
    int keyOffset = view.key(token);
    int valueOffset = view.value(token);
    float decay = (float) Math.exp(view.logDecay(token));
    float beta = view.beta(token);
    float[] memory = new float[valueHeadDim];
    for (int i = 0; i < keyHeadDim; i++) {
      int row = stateOffset + i * valueHeadDim;
      ops.scale(recurrent, row, valueHeadDim, decay);
      ops.axpy(qkv[keyOffset + i], recurrent, row, memory, 0, valueHeadDim);
    }
    float[] delta = new float[valueHeadDim];
    for (int j = 0; j < valueHeadDim; j++) {
      delta[j] = (qkv[valueOffset + j] - memory[j]) * beta;
    }
    for (int i = 0; i < keyHeadDim; i++) {
      int row = stateOffset + i * valueHeadDim;
      ops.axpy(qkv[keyOffset + i], delta, 0, recurrent, row, valueHeadDim);
      ops.axpy(qkv[queryOffset + i], recurrent, row, view.out, view.output(token), valueHeadDim);
    }
  }

  /**
   * The chunked form of the delta rule that transformers uses for prefill (torch_chunk_gated_delta_rule, chunks
   * of 64 counted from the first token of the call, zero-padded): within a chunk the WY representation
   * {@code A = (I + strict_tril(β K Kᵀ ⊙ Γ))⁻¹} (by forward substitution) turns the recurrence into matrix
   * products; the state crosses chunk boundaries. Algebraically equal to {@link #recurrentStep} per token; kept
   * for prefill because it reproduces transformers' rounding closely in long, ill-conditioned sequences.
   */
  private void chunked(KernelOps ops, float[] recurrent, HeadView view) {
    int chunk = CHUNK;
    int dk = keyHeadDim;
    int dv = valueHeadDim;
    float[] qkv = view.qkv;
    int stateOffset = view.state();
    float[] q = new float[chunk * dk];
    float[] k = new float[chunk * dk];
    float[] kBetaDecayed = new float[chunk * dk];
    float[] kBeta = new float[chunk * dk];
    float[] vBeta = new float[chunk * dv];
    float[] g = new float[chunk];
    float[] decayMask = new float[chunk * chunk];
    float[] a = new float[chunk * chunk];
    float[] values = new float[chunk * dv];
    float[] kCumDecay = new float[chunk * dk];
    float[] newValues = new float[chunk * dv];
    float[] queryDecayed = new float[chunk * dk];
    float[] row = new float[chunk];
    float[] stateColumn = new float[dk];
    for (int first = 0; first < view.tokens; first += chunk) {
      int count = Math.min(chunk, view.tokens - first);
      Arrays.fill(q, 0f);
      Arrays.fill(k, 0f);
      Arrays.fill(kBeta, 0f);
      Arrays.fill(vBeta, 0f);
      float cumulative = 0f;
      for (int t = 0; t < chunk; t++) {
        if (t < count) {
          int token = first + t;
          float beta = view.beta(token);
          System.arraycopy(qkv, view.query(token), q, t * dk, dk);
          System.arraycopy(qkv, view.key(token), k, t * dk, dk);
          for (int i = 0; i < dk; i++) {
            kBeta[t * dk + i] = k[t * dk + i] * beta;
          }
          for (int j = 0; j < dv; j++) {
            vBeta[t * dv + j] = qkv[view.value(token) + j] * beta;
          }
          cumulative += view.logDecay(token);
        }
        g[t] = cumulative;
      }
      // decay_mask[i][j] = exp(g_i − g_j) for j ≤ i; A = −(kβ·kᵀ ⊙ decay) strictly below the diagonal.
      for (int i = 0; i < chunk; i++) {
        for (int j = 0; j < chunk; j++) {
          decayMask[i * chunk + j] = j <= i ? (float) Math.exp(g[i] - g[j]) : 0f;
          a[i * chunk + j] = j < i ? -(ops.dot(kBeta, i * dk, k, j * dk, dk) * decayMask[i * chunk + j]) : 0f;
        }
      }
      // Forward substitution: A[i, :i] += Σ_m A[i, m]·A[m, :i] (rows above already final).
      for (int i = 1; i < chunk; i++) {
        System.arraycopy(a, i * chunk, row, 0, i);
        for (int j = 0; j < i; j++) {
          float sum = 0f;
          for (int m = 0; m < i; m++) {
            sum = Math.fma(row[m], a[m * chunk + j], sum);
          }
          a[i * chunk + j] = row[j] + sum;
        }
      }
      for (int i = 0; i < chunk; i++) {
        a[i * chunk + i] += 1f;
        float decay = (float) Math.exp(g[i]);
        for (int d = 0; d < dk; d++) {
          kBetaDecayed[i * dk + d] = kBeta[i * dk + d] * decay;
        }
      }
      // values = A·vβ; kCumDecay = A·(kβ ⊙ exp(g)).
      Arrays.fill(values, 0f);
      Arrays.fill(kCumDecay, 0f);
      for (int i = 0; i < chunk; i++) {
        for (int m = 0; m < chunk; m++) {
          float weight = a[i * chunk + m];
          if (weight != 0f) {
            ops.axpy(weight, vBeta, m * dv, values, i * dv, dv);
            ops.axpy(weight, kBetaDecayed, m * dk, kCumDecay, i * dk, dk);
          }
        }
      }
      // vNew = values − kCumDecay·S; out = (q ⊙ exp(g))·S + tril(q·kᵀ ⊙ decay)·vNew.
      for (int i = 0; i < chunk; i++) {
        float decay = (float) Math.exp(g[i]);
        for (int d = 0; d < dk; d++) {
          queryDecayed[i * dk + d] = q[i * dk + d] * decay;
        }
      }
      float[] inter = new float[chunk * dv];
      System.arraycopy(values, 0, newValues, 0, chunk * dv);
      for (int i = 0; i < chunk; i++) {
        for (int d = 0; d < dk; d++) {
          int stateRow = stateOffset + d * dv;
          ops.axpy(-kCumDecay[i * dk + d], recurrent, stateRow, newValues, i * dv, dv);
          ops.axpy(queryDecayed[i * dk + d], recurrent, stateRow, inter, i * dv, dv);
        }
      }
      for (int i = 0; i < count; i++) {
        int outOffset = view.output(first + i);
        System.arraycopy(inter, i * dv, view.out, outOffset, dv);
        for (int j = 0; j <= i; j++) {
          float score = ops.dot(q, i * dk, k, j * dk, dk) * decayMask[i * chunk + j];
          ops.axpy(score, newValues, j * dv, view.out, outOffset, dv);
        }
      }
      // S ← S·exp(g_last) + (k ⊙ exp(g_last − g))ᵀ·vNew.
      float last = g[chunk - 1];
      ops.scale(recurrent, stateOffset, dk * dv, (float) Math.exp(last));
      for (int t = 0; t < count; t++) {
        float decay = (float) Math.exp(last - g[t]);
        for (int d = 0; d < dk; d++) {
          stateColumn[d] = k[t * dk + d] * decay;
        }
        for (int d = 0; d < dk; d++) {
          ops.axpy(stateColumn[d], newValues, t * dv, recurrent, stateOffset + d * dv, dv);
        }
      }
    }
  }

  /**
   * Causal depthwise conv (no bias, no kernel flip) + SiLU over the first {@code convDim} channels of the
   * {@code tokens} rows of {@code projected} ({@code stride} floats apart), continuing from the {@code K − 1} rows
   * of {@code window}, which is then advanced to the last {@code K − 1} pre-conv rows.
   */
  private float[] convolve(float[] projected, int stride, int tokens, float[] window) {
    int history = kernelSize - 1;
    // rows [0, history) = previous inputs, then this call's tokens.
    float[] extended = new float[(history + tokens) * convDim];
    System.arraycopy(window, 0, extended, 0, history * convDim);
    for (int token = 0; token < tokens; token++) {
      System.arraycopy(projected, token * stride, extended, (history + token) * convDim, convDim);
    }
    float[] result = new float[tokens * convDim];
    for (int token = 0; token < tokens; token++) {
      for (int channel = 0; channel < convDim; channel++) {
        float sum = 0f;
        for (int tap = 0; tap < kernelSize; tap++) {
          sum = Math.fma(convWeight[channel * kernelSize + tap], extended[(token + tap) * convDim + channel], sum);
        }
        result[token * convDim + channel] = Functions.silu(sum);
      }
    }
    System.arraycopy(extended, tokens * convDim, window, 0, history * convDim);
    return result;
  }

  /** {@code x / sqrt(Σx² + 1e-6)} in place (eps added to the sum of squares, docs/model.md §3.5 step 5). */
  private static void l2Normalise(float[] x, int offset, int length) {
    double sumOfSquares = 0;
    for (int i = 0; i < length; i++) {
      sumOfSquares += (double) x[offset + i] * x[offset + i];
    }
    float inverse = (float) (1.0 / Math.sqrt((float) sumOfSquares + 1e-6));
    for (int i = 0; i < length; i++) {
      x[offset + i] *= inverse;
    }
  }
}
