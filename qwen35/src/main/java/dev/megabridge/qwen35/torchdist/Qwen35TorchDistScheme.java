package dev.megabridge.qwen35.torchdist;

import dev.megabridge.core.convert.torchdist.DistForm;
import dev.megabridge.core.convert.torchdist.DistPlacement;
import dev.megabridge.core.convert.torchdist.TorchDistScheme;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.qwen35.Qwen35BridgeModel;
import dev.megabridge.qwen35.Qwen35MappingTables;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Qwen3.5(-VL) keys in Megatron's sharded state dict (docs/formats.md §3.10–§3.16): per-layer language
 * keys (the GDN hybrid is non-homogeneous), stacked vision keys with a leading depth axis, routed
 * experts under {@code mlp.experts.experts.*} with the expert axis, GDN {@code in_proj} and
 * {@code conv1d} sections as separate keys, SwiGLU {@code linear_fc1} halves as two chunks,
 * and MTP under {@code transformer_layer} whatever the in-memory name.
 */
public final class Qwen35TorchDistScheme implements TorchDistScheme {

  private static final String MTP_CURRENT = ".mtp_model_layer.";
  private static final String MTP_ON_DISK = ".transformer_layer.";
  private static final Pattern GROUPED_EXPERT = Pattern.compile("^(.*\\.mlp\\.experts)\\.(linear_fc[12])\\.weight(\\d+)$");
  private static final Pattern SEQUENTIAL_EXPERT =
      Pattern.compile("^(.*\\.mlp\\.experts)\\.local_experts\\.(\\d+)\\.(linear_fc[12])\\.weight$");
  private static final Pattern VISION_LAYER = Pattern.compile("^vision_model\\.decoder\\.layers\\.(\\d+)\\.(.*)$");
  private static final Set<String> PARAMETER_SUFFIXES = Set.of("weight", "bias", "layer_norm_weight", "layer_norm_bias");
  /**
   * Modules that are Transformer Engine modules with {@code _extra_state} in the TE spec (docs/formats.md §3.13):
   * fused LayerNorm linears, column/row-parallel linears, grouped expert linears and (TE ≥ 1.13) TE norms. Writing
   * a superset is harmless; a requested object that is missing aborts Megatron's load.
   */
  private static final Set<String> TE_MODULES = Set.of("linear_qkv", "linear_proj", "q_layernorm", "k_layernorm",
      "in_proj", "out_norm", "out_proj", "linear_fc1", "linear_fc2", "pre_mlp_layernorm", "final_layernorm", "eh_proj",
      "enorm", "hnorm", "patch_norm");

  /** The half-precision config dtypes in which slime stores every parameter. */
  private static final Map<String, DType> HALF_PRECISION = Map.of("bfloat16", DType.BF16, "float16", DType.F16);

  private final Qwen35BridgeModel model;

  public Qwen35TorchDistScheme(Qwen35BridgeModel model) {
    this.model = model;
  }

  @Override
  public DistPlacement place(MegatronParam param) {
    String name = param.name().replace(MTP_CURRENT, MTP_ON_DISK);
    if (slime() && isSlimeHfModule(name)) {
      // slime's schema: plain PyTorch modules, one replicated key each, no _extra_state
      // (docs/formats.md §3.3, §3.13).
      return new DistPlacement(new DistForm.Whole(name), Optional.empty(), false);
    }
    DistForm form = form(name);
    String key = form.key();
    boolean vocabulary = key.endsWith("embedding.word_embeddings.weight") || key.endsWith("output_layer.weight");
    return new DistPlacement(form, teModule(key), vocabulary);
  }

  private DistForm form(String name) {
    Matcher grouped = GROUPED_EXPERT.matcher(name);
    if (grouped.matches()) {
      return expert(grouped.group(1), grouped.group(2), Integer.parseInt(grouped.group(3)));
    }
    Matcher sequential = SEQUENTIAL_EXPERT.matcher(name);
    if (sequential.matches()) {
      return expert(sequential.group(1), sequential.group(3), Integer.parseInt(sequential.group(2)));
    }
    Matcher vision = VISION_LAYER.matcher(name);
    if (vision.matches()) {
      int depth = model.qwenConfig().vision().orElseThrow().depth();
      // The vision MLP is not gated: fc1 is one chunk per layer (docs/formats.md §3.12).
      return new DistForm.Stacked("vision_model.decoder.layers." + vision.group(2), Integer.parseInt(vision.group(1)),
          depth, false);
    }
    TextConfig text = model.qwenConfig().text();
    if (name.endsWith(".self_attention.in_proj.weight")) {
      return new DistForm.Sections(name, List.of(new DistForm.Section("query", text.keyDim()),
          new DistForm.Section("key", text.keyDim()), new DistForm.Section("value", text.valueDim()),
          new DistForm.Section("z", text.valueDim()), new DistForm.Section("beta", text.linearNumValueHeads()),
          new DistForm.Section("alpha", text.linearNumValueHeads())));
    }
    if (name.endsWith(".self_attention.conv1d.weight")) {
      return new DistForm.Sections(name, List.of(new DistForm.Section("query", text.keyDim()),
          new DistForm.Section("key", text.keyDim()), new DistForm.Section("value", text.valueDim())));
    }
    if (name.endsWith(".mlp.linear_fc1.weight") || name.endsWith(".mlp.shared_experts.linear_fc1.weight")) {
      return new DistForm.SwigluHalves(name);
    }
    return new DistForm.Whole(name);
  }

  /** Routed experts: {@code <layer>.mlp.experts.experts.linear_fc{1,2}.weight [E, …]} (docs/formats.md §3.11). */
  private DistForm expert(String experts, String linear, int expert) {
    return new DistForm.Stacked(experts + ".experts." + linear + ".weight", expert, model.numExperts(),
        linear.equals("linear_fc1"));
  }

  private static Optional<String> teModule(String key) {
    int dot = key.lastIndexOf('.');
    if (dot < 0 || !PARAMETER_SUFFIXES.contains(key.substring(dot + 1))) {
      return Optional.empty();
    }
    String module = key.substring(0, dot);
    return TE_MODULES.contains(module.substring(module.lastIndexOf('.') + 1)) ? Optional.of(module) : Optional.empty();
  }

  private boolean slime() {
    return model.options().schema() == Schema.SLIME;
  }

  /** slime's Gated DeltaNet block and vision tower: HF modules inside the Megatron model (docs/formats.md §3.3). */
  private static boolean isSlimeHfModule(String name) {
    return name.contains(".self_attention.linear_attn.") || name.endsWith(".self_attention.input_layernorm.weight")
        || name.startsWith(Qwen35MappingTables.SLIME_VISION_PREFIX);
  }

  /**
   * slime trains with {@code --bf16} and Megatron's {@code Float16Module} casts every parameter, so the F32
   * {@code A_log} and gated-norm weights of an official checkpoint are stored BF16 (docs/formats.md §3.3).
   */
  @Override
  public DType storedDtype(MegatronParam param, DType dtype) {
    boolean narrowed = slime() && dtype == DType.F32 && model.keepsFloat32(param.name())
        && model.qwenConfig().declaredDtype().map(HALF_PRECISION::get).orElse(null) != null;
    return narrowed ? HALF_PRECISION.get(model.qwenConfig().declaredDtype().orElseThrow()) : dtype;
  }

  /**
   * Megatron main-branch builds of 2026-02-01..10 wrote MTP keys as {@code mtp_model_layer} (docs/formats.md §3.14).
   */
  @Override
  public List<String> readCandidates(String key) {
    return key.contains(MTP_ON_DISK) && key.contains("mtp.layers.")
        ? List.of(key, key.replace(MTP_ON_DISK, MTP_CURRENT)) : List.of(key);
  }
}
