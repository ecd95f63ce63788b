package dev.megabridge.qwen35;

import dev.megabridge.core.config.HfConfig;
import dev.megabridge.core.convert.torchdist.TorchDistScheme;
import dev.megabridge.core.error.ConfigException;
import dev.megabridge.core.error.LayoutException;
import dev.megabridge.core.mapping.MappingRegistry;
import dev.megabridge.core.parallel.ParallelLayout;
import dev.megabridge.core.quant.Fp8Policy;
import dev.megabridge.core.spi.BridgeModel;
import dev.megabridge.core.spi.BridgeOptions;
import dev.megabridge.core.spi.BridgeOptions.ExpertNaming;
import dev.megabridge.core.spi.BridgeOptions.Schema;
import dev.megabridge.core.spi.HfTensorSpec;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.spi.MegatronParam.Placement;
import dev.megabridge.core.spi.ModelBridge;
import dev.megabridge.core.tensor.Shape;
import dev.megabridge.qwen35.torchdist.Qwen35TorchDistScheme;
import dev.megabridge.qwen35.Qwen35Config.TextConfig;
import dev.megabridge.qwen35.Qwen35Config.VisionConfig;
import dev.megabridge.qwen35.Qwen35MappingTables.ExpertStorage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Qwen3.5 bridge bound to one checkpoint: layout variants detected from the tensor names (docs/mappings.md §4.9),
 * the expected HF tensors, the Megatron parameters of any layout, the provider and Megatron-LM arguments.
 */
public final class Qwen35BridgeModel implements BridgeModel {

  private static final String GDN_FLOAT32_A_LOG = ".linear_attn.A_log";
  private static final String GDN_FLOAT32_NORM = ".linear_attn.norm.weight";
  private static final Pattern MTP_LAYER = Pattern.compile("^mtp\\.layers\\.(\\d+)\\..*");

  private final ModelBridge bridge;
  private final Qwen35Config config;
  private final BridgeOptions options;
  private final ExpertStorage mainExperts;
  private final ExpertStorage mtpExperts;
  private final int mtpLayers;
  private final boolean mtpInferred;
  private final MappingRegistry registry;
  private final Qwen35MappingTables.Prefixes prefixes;

  Qwen35BridgeModel(ModelBridge bridge, Qwen35Config config, Optional<Set<String>> names, BridgeOptions options) {
    this.bridge = bridge;
    this.config = config;
    this.options = options;
    this.prefixes = Qwen35MappingTables.Prefixes.of(config.visionLanguage());
    String languagePrefix = prefixes.hfLanguage() + "layers.";
    this.mainExperts = config.moe() ? detectStorage(config.source(), names, "^" + Pattern.quote(languagePrefix) + "\\d+\\.mlp\\.experts\\.",
        "main decoder") : ExpertStorage.PER_EXPERT;
    this.mtpExperts = config.moe() ? detectStorage(config.source(), names, "^mtp\\.layers\\.\\d+\\.mlp\\.experts\\.", "MTP")
        : ExpertStorage.PER_EXPERT;
    int declared = config.declaredMtpLayers();
    int present = names.map(Qwen35BridgeModel::mtpLayersIn).orElse(0);
    if (config.text().mtpNumHiddenLayers().isEmpty() && present > 0) {
      this.mtpLayers = present;
      this.mtpInferred = true;
    } else {
      this.mtpLayers = declared;
      this.mtpInferred = false;
    }
    names.ifPresent(this::checkTie);
    this.registry = Qwen35MappingTables.registry(config, mainExperts, mtpExperts, options);
  }

  /**
   * docs/mappings.md §4.9: per-expert if a name matches {@code <prefix>.<i>.(gate|up|down)_proj.weight}, packed if one
   * matches {@code <prefix>(gate_up_proj|down_proj)}; both is an error; neither (or no weights) means
   * per-expert.
   */
  private static ExpertStorage detectStorage(HfConfig config, Optional<Set<String>> names, String prefixRegex,
      String where) {
    if (names.isEmpty()) {
      return ExpertStorage.PER_EXPERT;
    }
    Pattern perExpert = Pattern.compile(prefixRegex + "\\d+\\.(gate|up|down)_proj\\.weight$");
    Pattern packed = Pattern.compile(prefixRegex + "(gate_up_proj|down_proj)$");
    String perExpertExample = null;
    String packedExample = null;
    for (String name : names.get()) {
      if (perExpertExample == null && perExpert.matcher(name).matches()) {
        perExpertExample = name;
      }
      if (packedExample == null && packed.matcher(name).matches()) {
        packedExample = name;
      }
    }
    if (perExpertExample != null && packedExample != null) {
      throw new ConfigException(config.file().getParent() + ": checkpoint mixes packed and per-expert " + where
          + " experts (e.g. " + packedExample + " and " + perExpertExample + ")");
    }
    return packedExample != null ? ExpertStorage.PACKED : ExpertStorage.PER_EXPERT;
  }

  private static int mtpLayersIn(Set<String> names) {
    int layers = 0;
    for (String name : names) {
      Matcher matcher = MTP_LAYER.matcher(name);
      if (matcher.matches()) {
        layers = Math.max(layers, Integer.parseInt(matcher.group(1)) + 1);
      }
    }
    return layers;
  }

  /** A config saying "untied" while {@code lm_head.weight} is missing is an error, not a silent tie. */
  private void checkTie(Set<String> names) {
    boolean hasHead = names.contains("lm_head.weight");
    if (!config.tieWordEmbeddings() && !hasHead) {
      throw new ConfigException(config.source().file() + ": tie_word_embeddings is false but the checkpoint has no "
          + "lm_head.weight");
    }
    if (config.tieWordEmbeddings() && hasHead) {
      throw new ConfigException(config.source().file() + ": tie_word_embeddings is true but the checkpoint also "
          + "holds lm_head.weight; refusing to guess which one is meant");
    }
  }

  public Qwen35Config qwenConfig() {
    return config;
  }

  public ExpertStorage mainExpertStorage() {
    return mainExperts;
  }

  public ExpertStorage mtpExpertStorage() {
    return mtpExperts;
  }

  public int mtpLayers() {
    return mtpLayers;
  }

  @Override
  public ModelBridge bridge() {
    return bridge;
  }

  @Override
  public String architecture() {
    return config.architecture();
  }

  @Override
  public HfConfig config() {
    return config.source();
  }

  @Override
  public BridgeOptions options() {
    return options;
  }

  @Override
  public MappingRegistry registry() {
    return registry;
  }

  @Override
  public int numLayers() {
    return config.text().numHiddenLayers();
  }

  @Override
  public int numExperts() {
    return config.moe() ? config.text().numExperts() : 0;
  }

  /**
   * Gated DeltaNet keeps {@code A_log} and the gated RMSNorm weight ({@code linear_attn.norm.weight}) in float32
   * ({@code mamba_ssm_dtype}); the official bf16 checkpoints store them F32.
   */
  @Override
  public boolean keepsFloat32(String hfName) {
    return hfName.endsWith(GDN_FLOAT32_A_LOG) || hfName.endsWith(GDN_FLOAT32_NORM);
  }

  @Override
  public Optional<TorchDistScheme> torchDistScheme() {
    return Optional.of(new Qwen35TorchDistScheme(this));
  }

  @Override
  public Optional<Fp8Policy> fp8Policy() {
    return Optional.of(new Qwen35Fp8Policy(config));
  }

  @Override
  public boolean tiedEmbeddings() {
    return config.tieWordEmbeddings();
  }

  // ---- HF tensors (docs/mappings.md §4.3–§4.8) --------------------------------------------------------

  @Override
  public List<HfTensorSpec> hfTensors() {
    TextConfig text = config.text();
    long hidden = text.hiddenSize();
    List<HfTensorSpec> out = new ArrayList<>();
    String lm = prefixes.hfLanguage();
    out.add(new HfTensorSpec(lm + "embed_tokens.weight", Shape.of(text.vocabSize(), hidden), "embedding"));
    for (int layer = 0; layer < text.numHiddenLayers(); layer++) {
      addLayerTensors(out, lm + "layers." + layer + ".", text.isFullAttention(layer), mainExperts, "language_model");
    }
    out.add(new HfTensorSpec(lm + "norm.weight", Shape.of(hidden), "language_model"));
    if (!config.tieWordEmbeddings()) {
      out.add(new HfTensorSpec("lm_head.weight", Shape.of(text.vocabSize(), hidden), "lm_head"));
    }
    for (int layer = 0; layer < mtpLayers; layer++) {
      if (layer == 0) {
        out.add(new HfTensorSpec("mtp.fc.weight", Shape.of(hidden, 2 * hidden), "mtp"));
        out.add(new HfTensorSpec("mtp.pre_fc_norm_embedding.weight", Shape.of(hidden), "mtp"));
        out.add(new HfTensorSpec("mtp.pre_fc_norm_hidden.weight", Shape.of(hidden), "mtp"));
        out.add(new HfTensorSpec("mtp.norm.weight", Shape.of(hidden), "mtp"));
      }
      addLayerTensors(out, "mtp.layers." + layer + ".", true, mtpExperts, "mtp");
    }
    config.vision().ifPresent(vision -> addVisionTensors(out, vision));
    return out;
  }

  private void addLayerTensors(List<HfTensorSpec> out, String prefix, boolean fullAttention, ExpertStorage storage,
      String component) {
    TextConfig text = config.text();
    long hidden = text.hiddenSize();
    out.add(new HfTensorSpec(prefix + "input_layernorm.weight", Shape.of(hidden), component));
    out.add(new HfTensorSpec(prefix + "post_attention_layernorm.weight", Shape.of(hidden), component));
    if (fullAttention) {
      long heads = text.numAttentionHeads();
      long kv = text.numKeyValueHeads();
      long headDim = text.headDim();
      out.add(new HfTensorSpec(prefix + "self_attn.q_proj.weight", Shape.of(2 * heads * headDim, hidden), component));
      out.add(new HfTensorSpec(prefix + "self_attn.k_proj.weight", Shape.of(kv * headDim, hidden), component));
      out.add(new HfTensorSpec(prefix + "self_attn.v_proj.weight", Shape.of(kv * headDim, hidden), component));
      out.add(new HfTensorSpec(prefix + "self_attn.o_proj.weight", Shape.of(hidden, heads * headDim), component));
      out.add(new HfTensorSpec(prefix + "self_attn.q_norm.weight", Shape.of(headDim), component));
      out.add(new HfTensorSpec(prefix + "self_attn.k_norm.weight", Shape.of(headDim), component));
    } else {
      String la = prefix + "linear_attn.";
      long valueHeads = text.linearNumValueHeads();
      out.add(new HfTensorSpec(la + "in_proj_qkv.weight", Shape.of(text.convDim(), hidden), component));
      out.add(new HfTensorSpec(la + "in_proj_z.weight", Shape.of(text.valueDim(), hidden), component));
      out.add(new HfTensorSpec(la + "in_proj_b.weight", Shape.of(valueHeads, hidden), component));
      out.add(new HfTensorSpec(la + "in_proj_a.weight", Shape.of(valueHeads, hidden), component));
      out.add(new HfTensorSpec(la + "conv1d.weight", Shape.of(text.convDim(), 1, text.linearConvKernelDim()), component));
      out.add(new HfTensorSpec(la + "dt_bias", Shape.of(valueHeads), component));
      out.add(new HfTensorSpec(la + "A_log", Shape.of(valueHeads), component));
      out.add(new HfTensorSpec(la + "norm.weight", Shape.of(text.linearValueHeadDim()), component));
      out.add(new HfTensorSpec(la + "out_proj.weight", Shape.of(hidden, text.valueDim()), component));
    }
    String mlp = prefix + "mlp.";
    if (!config.moe()) {
      long inter = text.intermediateSize();
      out.add(new HfTensorSpec(mlp + "gate_proj.weight", Shape.of(inter, hidden), component));
      out.add(new HfTensorSpec(mlp + "up_proj.weight", Shape.of(inter, hidden), component));
      out.add(new HfTensorSpec(mlp + "down_proj.weight", Shape.of(hidden, inter), component));
      return;
    }
    long experts = text.numExperts();
    long expertInter = text.moeIntermediateSize();
    long sharedInter = text.sharedExpertIntermediateSize();
    out.add(new HfTensorSpec(mlp + "gate.weight", Shape.of(experts, hidden), component));
    switch (storage) {
      case PACKED -> {
        out.add(new HfTensorSpec(mlp + "experts.gate_up_proj", Shape.of(experts, 2 * expertInter, hidden), component));
        out.add(new HfTensorSpec(mlp + "experts.down_proj", Shape.of(experts, hidden, expertInter), component));
      }
      case PER_EXPERT -> {
        for (int expert = 0; expert < experts; expert++) {
          String e = mlp + "experts." + expert + ".";
          out.add(new HfTensorSpec(e + "gate_proj.weight", Shape.of(expertInter, hidden), component));
          out.add(new HfTensorSpec(e + "up_proj.weight", Shape.of(expertInter, hidden), component));
          out.add(new HfTensorSpec(e + "down_proj.weight", Shape.of(hidden, expertInter), component));
        }
      }
    }
    out.add(new HfTensorSpec(mlp + "shared_expert.gate_proj.weight", Shape.of(sharedInter, hidden), component));
    out.add(new HfTensorSpec(mlp + "shared_expert.up_proj.weight", Shape.of(sharedInter, hidden), component));
    out.add(new HfTensorSpec(mlp + "shared_expert.down_proj.weight", Shape.of(hidden, sharedInter), component));
    out.add(new HfTensorSpec(mlp + "shared_expert_gate.weight", Shape.of(1, hidden), component));
  }

  private static void addVisionTensors(List<HfTensorSpec> out, VisionConfig vision) {
    long hidden = vision.hiddenSize();
    long inter = vision.intermediateSize();
    long merged = vision.mergedHiddenSize();
    String v = "model.visual.";
    out.add(new HfTensorSpec(v + "patch_embed.proj.weight", Shape.of(hidden, vision.inChannels(),
        vision.temporalPatchSize(), vision.patchSize(), vision.patchSize()), "visual"));
    out.add(new HfTensorSpec(v + "patch_embed.proj.bias", Shape.of(hidden), "visual"));
    out.add(new HfTensorSpec(v + "pos_embed.weight", Shape.of(vision.numPositionEmbeddings(), hidden), "visual"));
    for (int block = 0; block < vision.depth(); block++) {
      String b = v + "blocks." + block + ".";
      out.add(new HfTensorSpec(b + "norm1.weight", Shape.of(hidden), "visual"));
      out.add(new HfTensorSpec(b + "norm1.bias", Shape.of(hidden), "visual"));
      out.add(new HfTensorSpec(b + "norm2.weight", Shape.of(hidden), "visual"));
      out.add(new HfTensorSpec(b + "norm2.bias", Shape.of(hidden), "visual"));
      out.add(new HfTensorSpec(b + "attn.qkv.weight", Shape.of(3 * hidden, hidden), "visual"));
      out.add(new HfTensorSpec(b + "attn.qkv.bias", Shape.of(3 * hidden), "visual"));
      out.add(new HfTensorSpec(b + "attn.proj.weight", Shape.of(hidden, hidden), "visual"));
      out.add(new HfTensorSpec(b + "attn.proj.bias", Shape.of(hidden), "visual"));
      out.add(new HfTensorSpec(b + "mlp.linear_fc1.weight", Shape.of(inter, hidden), "visual"));
      out.add(new HfTensorSpec(b + "mlp.linear_fc1.bias", Shape.of(inter), "visual"));
      out.add(new HfTensorSpec(b + "mlp.linear_fc2.weight", Shape.of(hidden, inter), "visual"));
      out.add(new HfTensorSpec(b + "mlp.linear_fc2.bias", Shape.of(hidden), "visual"));
    }
    out.add(new HfTensorSpec(v + "merger.norm.weight", Shape.of(hidden), "visual"));
    out.add(new HfTensorSpec(v + "merger.norm.bias", Shape.of(hidden), "visual"));
    out.add(new HfTensorSpec(v + "merger.linear_fc1.weight", Shape.of(merged, merged), "visual"));
    out.add(new HfTensorSpec(v + "merger.linear_fc1.bias", Shape.of(merged), "visual"));
    out.add(new HfTensorSpec(v + "merger.linear_fc2.weight", Shape.of(vision.outHiddenSize(), merged), "visual"));
    out.add(new HfTensorSpec(v + "merger.linear_fc2.bias", Shape.of(vision.outHiddenSize()), "visual"));
  }

  // ---- Megatron parameters (docs/mappings.md §4.9) ----------------------------------------------------

  @Override
  public List<MegatronParam> megatronParams(ParallelLayout layout) {
    List<MegatronParam> out = new ArrayList<>();
    String m = prefixes.megatron();
    String embedding = m + "embedding.word_embeddings.weight";
    out.add(MegatronParam.owned(embedding, Placement.FIRST_STAGE, -1, -1));
    switch (options.schema()) {
      case MEGATRON_BRIDGE -> config.vision().ifPresent(vision -> addVisionParams(out, vision));
      case SLIME -> config.vision().ifPresent(vision -> addSlimeVisionParams(out, vision));
    }
    for (int layer = 0; layer < numLayers(); layer++) {
      addLayerParams(out, m + "decoder.layers." + layer + ".", config.text().isFullAttention(layer),
          Placement.DECODER_LAYER, layer);
    }
    out.add(MegatronParam.owned(m + "decoder.final_layernorm.weight", Placement.LAST_STAGE, -1, -1));
    String output = m + "output_layer.weight";
    if (!config.tieWordEmbeddings()) {
      out.add(MegatronParam.owned(output, Placement.LAST_STAGE, -1, -1));
    } else if (layout.pp() > 1) {
      // Tied model, several stages: the last stage keeps its own copy of the embedding as output layer.
      out.add(new MegatronParam(output, embedding, Placement.LAST_STAGE, -1, -1, true));
    }
    String inner = options.mtpNaming().innerName();
    for (int layer = 0; layer < mtpLayers; layer++) {
      String mtp = prefixes.megatronMtp() + "." + layer + ".";
      out.add(MegatronParam.owned(mtp + "eh_proj.weight", Placement.LAST_STAGE, -1, -1));
      out.add(MegatronParam.owned(mtp + "enorm.weight", Placement.LAST_STAGE, -1, -1));
      out.add(MegatronParam.owned(mtp + "hnorm.weight", Placement.LAST_STAGE, -1, -1));
      out.add(MegatronParam.owned(mtp + "final_layernorm.weight", Placement.LAST_STAGE, -1, -1));
      addLayerParams(out, mtp + inner + ".", true, Placement.LAST_STAGE, -1);
    }
    if (mtpLayers > 0 && layout.pp() > 1) {
      // The MTP block on the last stage embeds the shifted tokens with its own copy of the embedding.
      out.add(new MegatronParam(embedding, embedding, Placement.LAST_STAGE, -1, -1, true));
    }
    return out;
  }

  private void addLayerParams(List<MegatronParam> out, String prefix, boolean fullAttention, Placement placement,
      int layer) {
    String attention = prefix + "self_attention.";
    List<String> names = new ArrayList<>();
    if (fullAttention) {
      names.addAll(List.of("linear_qkv.layer_norm_weight", "linear_qkv.weight", "q_layernorm.weight",
          "k_layernorm.weight", "linear_proj.weight"));
    } else {
      switch (options.schema()) {
        case MEGATRON_BRIDGE -> names.addAll(List.of("in_proj.layer_norm_weight", "in_proj.weight", "conv1d.weight",
            "A_log", "dt_bias", "out_norm.weight", "out_proj.weight"));
        case SLIME -> {
          // docs/mappings.md §5.1: the HF module's own tensors, then its input norm.
          Qwen35MappingTables.SLIME_GDN_TENSORS.forEach(tensor -> names.add("linear_attn." + tensor));
          names.add("input_layernorm.weight");
        }
      }
    }
    for (String name : names) {
      out.add(MegatronParam.owned(attention + name, placement, layer, -1));
    }
    if (!config.moe()) {
      for (String name : List.of("mlp.linear_fc1.layer_norm_weight", "mlp.linear_fc1.weight", "mlp.linear_fc2.weight")) {
        out.add(MegatronParam.owned(prefix + name, placement, layer, -1));
      }
      return;
    }
    out.add(MegatronParam.owned(prefix + "pre_mlp_layernorm.weight", placement, layer, -1));
    out.add(MegatronParam.owned(prefix + "mlp.router.weight", placement, layer, -1));
    for (int expert = 0; expert < config.text().numExperts(); expert++) {
      for (String fc : List.of("linear_fc1", "linear_fc2")) {
        String name = options.expertNaming() == ExpertNaming.GROUPED
            ? prefix + "mlp.experts." + fc + ".weight" + expert
            : prefix + "mlp.experts.local_experts." + expert + "." + fc + ".weight";
        out.add(MegatronParam.owned(name, placement, layer, expert));
      }
    }
    for (String name : List.of("mlp.shared_experts.linear_fc1.weight", "mlp.shared_experts.linear_fc2.weight",
        "mlp.shared_experts.gate_weight")) {
      out.add(MegatronParam.owned(prefix + name, placement, layer, -1));
    }
  }

  private static void addVisionParams(List<MegatronParam> out, VisionConfig vision) {
    List<String> names = new ArrayList<>(List.of("vision_model.patch_embed.proj.weight",
        "vision_model.patch_embed.proj.bias", "vision_model.pos_embed.weight"));
    for (int block = 0; block < vision.depth(); block++) {
      String b = "vision_model.decoder.layers." + block + ".";
      for (String name : List.of("self_attention.linear_qkv.layer_norm_weight", "self_attention.linear_qkv.layer_norm_bias",
          "self_attention.linear_qkv.weight", "self_attention.linear_qkv.bias", "self_attention.linear_proj.weight",
          "self_attention.linear_proj.bias", "mlp.linear_fc1.layer_norm_weight", "mlp.linear_fc1.layer_norm_bias",
          "mlp.linear_fc1.weight", "mlp.linear_fc1.bias", "mlp.linear_fc2.weight", "mlp.linear_fc2.bias")) {
        names.add(b + name);
      }
    }
    for (String name : List.of("merger.patch_norm.weight", "merger.patch_norm.bias", "merger.linear_fc1.weight",
        "merger.linear_fc1.bias", "merger.linear_fc2.weight", "merger.linear_fc2.bias")) {
      names.add("vision_model." + name);
    }
    for (String name : names) {
      out.add(MegatronParam.owned(name, Placement.FIRST_STAGE, -1, -1));
    }
  }

  /** docs/mappings.md §5.1: every vision tensor under its HF name, on the first stage. */
  private static void addSlimeVisionParams(List<MegatronParam> out, VisionConfig vision) {
    List<HfTensorSpec> tensors = new ArrayList<>();
    addVisionTensors(tensors, vision);
    for (HfTensorSpec tensor : tensors) {
      out.add(MegatronParam.owned(tensor.name(), Placement.FIRST_STAGE, -1, -1));
    }
  }

  // ---- layout validation ------------------------------------------------------------------------------

  @Override
  public void validateLayout(ParallelLayout layout) {
    TextConfig text = config.text();
    int tp = layout.tp();
    divides("tp", tp, "text_config.num_key_value_heads (query groups)", text.numKeyValueHeads());
    divides("tp", tp, "text_config.num_attention_heads", text.numAttentionHeads());
    boolean slime = options.schema() == Schema.SLIME;
    if (slime) {
      // docs/mappings.md §5.1: the Gated DeltaNet and the vision tower run whole on every TP rank.
      long rows = options.vocabPadding().rows(text.vocabSize(), tp);
      divides("tp", tp, "the padded vocabulary (" + options.vocabPadding().describe() + ")", rows);
    } else {
      divides("tp", tp, "text_config.linear_num_key_heads", text.linearNumKeyHeads());
      divides("tp", tp, "text_config.linear_num_value_heads", text.linearNumValueHeads());
      divides("tp", tp, "text_config.vocab_size (no vocabulary padding for Qwen3.5-VL)", text.vocabSize());
    }
    if (mtpLayers > 0) {
      divides("tp", tp, "text_config.hidden_size (MTP eh_proj rows)", text.hiddenSize());
    }
    if (config.moe()) {
      divides("tp", tp, "text_config.shared_expert_intermediate_size", text.sharedExpertIntermediateSize());
      divides("ep", layout.ep(), "text_config.num_experts", text.numExperts());
      divides("etp", layout.etp(), "text_config.moe_intermediate_size", text.moeIntermediateSize());
    } else {
      divides("tp", tp, "text_config.intermediate_size", text.intermediateSize());
      // etp is accepted and unused here, as in Megatron-core (no expert weights to split).
      if (layout.ep() > 1) {
        throw new LayoutException("ep = " + layout.ep()
            + ": expert parallelism needs a MoE model (" + config.architecture() + " is dense)");
      }
    }
    config.vision().filter(vision -> !slime).ifPresent(vision -> {
      divides("tp", tp, "vision_config.num_heads", vision.numHeads());
      divides("tp", tp, "vision_config.intermediate_size", vision.intermediateSize());
      divides("tp", tp, "vision_config.hidden_size × spatial_merge_size² (merger)", vision.mergedHiddenSize());
    });
    layout.validateLayers(text.numHiddenLayers());
  }

  private static void divides(String sizeName, int size, String dimension, long value) {
    if (value % size != 0) {
      throw new LayoutException(sizeName + " = " + size + " does not divide " + dimension + " = " + value);
    }
  }

  // ---- provider (docs/mappings.md §6) -----------------------------------------------------------------

  @Override
  public LinkedHashMap<String, Object> provider() {
    return Qwen35Provider.fields(this);
  }

  @Override
  public List<String> megatronArgs() {
    return options.schema() == BridgeOptions.Schema.SLIME ? SlimeModelArgs.of(this) : Qwen35Provider.megatronArgs(this);
  }

  /** The layer pattern as a compact string: L = Gated DeltaNet (linear attention), A = full attention. */
  public String layerPattern() {
    StringBuilder pattern = new StringBuilder();
    for (Qwen35Config.LayerType type : config.text().layerTypes()) {
      pattern.append(type == Qwen35Config.LayerType.FULL_ATTENTION ? 'A' : 'L');
    }
    return pattern.toString();
  }

  @Override
  public Map<String, Object> facts() {
    Map<String, Object> facts = new LinkedHashMap<>();
    facts.put("architecture", config.architecture());
    facts.put("bridge", bridge.name());
    facts.put("schema", options.schema().id());
    facts.put("layers", numLayers());
    facts.put("layer_pattern", layerPattern());
    facts.put("layer_pattern_legend", "L = Gated DeltaNet, A = gated full attention");
    facts.put("hidden_size", config.text().hiddenSize());
    facts.put("vocab_size", config.text().vocabSize());
    facts.put("tie_word_embeddings", config.tieWordEmbeddings());
    if (config.moe()) {
      facts.put("experts", config.text().numExperts());
      facts.put("experts_per_token", config.text().numExpertsPerTok());
      facts.put("main_expert_layout", storageName(mainExperts));
    }
    facts.put("mtp_layers", mtpLayers);
    facts.put("mtp_layers_from", mtpInferred ? "mtp.layers.* weights (inferred)" : "config");
    if (config.moe() && mtpLayers > 0) {
      facts.put("mtp_expert_layout", storageName(mtpExperts));
    }
    facts.put("vision", config.vision().map(v -> "depth " + v.depth() + ", hidden " + v.hiddenSize()).orElse("none"));
    return facts;
  }

  private static String storageName(ExpertStorage storage) {
    return switch (storage) {
      case PACKED -> "packed (experts.gate_up_proj / experts.down_proj)";
      case PER_EXPERT -> "per-expert (experts.<i>.{gate,up,down}_proj.weight)";
    };
  }
}
