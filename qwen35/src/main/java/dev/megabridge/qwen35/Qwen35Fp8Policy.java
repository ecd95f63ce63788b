package dev.megabridge.qwen35;

import dev.megabridge.core.quant.Fp8Policy;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which Qwen3.5 weights go to blockwise FP8 (docs/formats.md §5): the 2-D weights of the attention q / k / v / o
 * projections, the Gated DeltaNet {@code in_proj_qkv}, {@code in_proj_z} and {@code out_proj}, the dense MLP and
 * shared-expert gate / up / down projections and the routed experts (per expert or packed), in the decoder and
 * in the MTP layers. Everything else stays in high precision: embeddings, {@code lm_head}, norms, the router
 * ({@code mlp.gate}), {@code shared_expert_gate}, GDN {@code in_proj_a} / {@code in_proj_b} / {@code conv1d} /
 * {@code A_log} / {@code dt_bias}, the MTP {@code fc} (eh_proj) and the whole vision tower.
 */
public final class Qwen35Fp8Policy implements Fp8Policy {
  private static final String VISION_PREFIX = "model.visual.";
  private static final Pattern QUANTIZED = Pattern.compile(
      "(?:^|\\.)(?:layers\\.\\d+\\.)"
          + "(?<module>self_attn\\.(?:q|k|v|o)_proj\\.weight"
          + "|linear_attn\\.(?:in_proj_qkv|in_proj_z|out_proj)\\.weight"
          + "|mlp\\.(?:shared_expert\\.)?(?:gate|up|down)_proj\\.weight"
          + "|mlp\\.experts\\.\\d+\\.(?:gate|up|down)_proj\\.weight"
          + "|mlp\\.experts\\.(?:gate_up_proj|down_proj))$");
  private static final Pattern ROW_PARALLEL = Pattern.compile("(?:o_proj|out_proj|down_proj)(?:\\.weight)?$");
  private static final Pattern EXPERT = Pattern.compile("\\.mlp\\.experts\\.");

  private final TextConfig text;

  public Qwen35Fp8Policy(Qwen35Config config) {
    this.text = config.text();
  }

  @Override
  public boolean quantizes(String hfName) {
    return !hfName.startsWith(VISION_PREFIX) && QUANTIZED.matcher(hfName).find();
  }

  @Override
  public Optional<TensorParallelAxis> tensorParallelAxis(String hfName) {
    return Optional.of(ROW_PARALLEL.matcher(hfName).find() ? TensorParallelAxis.INPUT : TensorParallelAxis.OUTPUT);
  }

  @Override
  public boolean isExpert(String hfName) {
    return EXPERT.matcher(hfName).find() && !hfName.contains(".shared_expert.");
  }

  @Override
  public List<Long> splitSections(String hfName, long axisLength) {
    Matcher matcher = QUANTIZED.matcher(hfName);
    String module = matcher.find() ? matcher.group("module") : "";
    if (module.equals("mlp.experts.gate_up_proj")) {
      return List.of(axisLength / 2, axisLength / 2);
    }
    if (module.equals("linear_attn.in_proj_qkv.weight")) {
      return List.of((long) text.keyDim(), (long) text.keyDim(), (long) text.valueDim());
    }
    return List.of(axisLength);
  }
}
