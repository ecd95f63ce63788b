package dev.megabridge.qwen35.slime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.megabridge.core.io.safetensors.SafetensorsCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Megatron tensors of one rank of slime's native Qwen3.5(-VL) model, computed from an HF folder with the rows
 * of slime-native-schema §2.2–§2.8 and the loader's sharding rules of §2.1, from the spec text alone (the config is
 * read as raw JSON, the tensors as raw bytes). Names are those of the rank's state dict: stage-local layer numbers,
 * local expert numbers {@code weight{j}} with global expert {@code e = p·E/e_p + j}.
 */
final class SlimeClosedForm {

  /** The nine tensors of slime's HF-layout Gated DeltaNet module (§2.3 rows 5–13). */
  static final List<String> GDN_TENSORS = List.of("in_proj_qkv.weight", "in_proj_z.weight", "in_proj_b.weight",
      "in_proj_a.weight", "conv1d.weight", "dt_bias", "A_log", "norm.weight", "out_proj.weight");

  /** Parallel sizes of the target and the vocabulary rows {@code Vp} of the embedding and output layer. */
  record Layout(int tp, int pp, int ep, int etp, long paddedVocab) {}

  /**
   * Deliberate departures from the spec, used only to show that the comparison notices them: {@code gdnNormShift}
   * is added to the GDN {@code norm.weight} (the Megatron-Bridge schema subtracts 1 there, §3).
   */
  record Deviation(float gdnNormShift) {
    static final Deviation NONE = new Deviation(0f);
  }

  private final Map<String, HostTensor> hf = new LinkedHashMap<>();
  private final boolean vision;
  private final String megatronPrefix;
  private final String hfPrefix;
  private final int heads;
  private final int groups;
  private final int headDim;
  private final int layers;
  private final int experts;
  private final int expertFfn;
  private final long vocab;
  private final boolean tied;
  private final boolean mtp;
  private final List<String> layerTypes = new ArrayList<>();
  private final Deviation deviation;

  SlimeClosedForm(Path hfFolder, Deviation deviation) {
    this.deviation = deviation;
    JsonNode config;
    try {
      config = new ObjectMapper().readTree(hfFolder.resolve("config.json").toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    vision = config.has("vision_config");
    JsonNode text = config.has("text_config") ? config.get("text_config") : config;
    // §1.2: the VL model wraps the GPTModel as language_model; HF keeps the text model under model.language_model.
    megatronPrefix = vision ? "language_model." : "";
    hfPrefix = vision ? "model.language_model." : "model.";
    heads = text.get("num_attention_heads").asInt();
    groups = text.get("num_key_value_heads").asInt();
    headDim = text.get("head_dim").asInt();
    layers = text.get("num_hidden_layers").asInt();
    experts = text.path("num_experts").asInt(0);
    expertFfn = text.path("moe_intermediate_size").asInt(0);
    vocab = text.get("vocab_size").asLong();
    // §2.2 row 2: the output layer is the embedding when either tie flag is set.
    tied = config.path("tie_word_embeddings").asBoolean(false) || text.path("tie_word_embeddings").asBoolean(false);
    mtp = text.path("mtp_num_hidden_layers").asInt(0) > 0;
    if (text.has("layer_types")) {
      text.get("layer_types").forEach(type -> layerTypes.add(type.asText()));
    } else {
      int interval = text.path("full_attention_interval").asInt(4);
      for (int layer = 0; layer < layers; layer++) {
        layerTypes.add((layer + 1) % interval == 0 ? "full_attention" : "linear_attention");
      }
    }
    try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(hfFolder)) {
      for (String name : checkpoint.names()) {
        hf.put(name, HostTensor.of(checkpoint.tensor(name)));
      }
    }
  }

  long vocab() {
    return vocab;
  }

  /** {@code Vp = ceil(V / (128·t))·128·t} (§4.3). */
  long megatronPaddedVocab(int tp) {
    long unit = 128L * tp;
    return (vocab + unit - 1) / unit * unit;
  }

  /** Every tensor of rank (TP {@code r}, PP stage {@code stage}, EP {@code p}) under {@code layout}. */
  Map<String, HostTensor> rank(Layout layout, int r, int stage, int p) {
    if (layers % layout.pp() != 0) {
      throw new IllegalArgumentException(layers + " layers over PP " + layout.pp());
    }
    Map<String, HostTensor> out = new LinkedHashMap<>();
    Rank rank = new Rank(layout, r, layout.etp() == 0 ? 0 : r % layout.etp(), p);
    boolean first = stage == 0;
    boolean last = stage == layout.pp() - 1;
    String lm = megatronPrefix;
    if (first || (last && mtp)) {
      // §2.2 row 1; Megatron's GPTModel also builds the embedding on the last stage when it holds the MTP block.
      out.put(lm + "embedding.word_embeddings.weight",
          hf(hfPrefix + "embed_tokens.weight").zeroPadRows(layout.paddedVocab()).rowChunk(layout.tp(), r));
    }
    if (first && vision) {
      // §2.8: every vision tensor under its HF name, full, on every TP rank of the first stage.
      hf.forEach((name, tensor) -> {
        if (name.startsWith("model.visual.")) {
          out.put(name, tensor);
        }
      });
    }
    int perStage = layers / layout.pp();
    for (int local = 0; local < perStage; local++) {
      int global = stage * perStage + local;
      String ld = lm + "decoder.layers." + local + ".";
      String hl = hfPrefix + "layers." + global + ".";
      if (layerTypes.get(global).equals("linear_attention")) {
        gatedDeltaNet(out, ld, hl);
      } else {
        fullAttention(out, ld, hl, rank);
      }
      mlp(out, ld, hl, rank);
    }
    if (last) {
      out.put(lm + "decoder.final_layernorm.weight", hf(hfPrefix + "norm.weight"));
      if (!tied || !first) {
        // §2.2 row 2: untied, or tied on a last stage that does not hold the embedding's original.
        String source = tied ? hfPrefix + "embed_tokens.weight" : "lm_head.weight";
        out.put(lm + "output_layer.weight", hf(source).zeroPadRows(layout.paddedVocab()).rowChunk(layout.tp(), r));
      }
      if (mtp) {
        // §2.7 rows 29–33.
        String mt = lm + "mtp.layers.0.";
        out.put(mt + "eh_proj.weight", hf("mtp.fc.weight").rowChunk(layout.tp(), r));
        out.put(mt + "enorm.weight", hf("mtp.pre_fc_norm_embedding.weight"));
        out.put(mt + "hnorm.weight", hf("mtp.pre_fc_norm_hidden.weight"));
        out.put(mt + "final_layernorm.weight", hf("mtp.norm.weight"));
        fullAttention(out, mt + "transformer_layer.", "mtp.layers.0.", rank);
        mlp(out, mt + "transformer_layer.", "mtp.layers.0.", rank);
      }
    }
    return out;
  }

  /** TP rank {@code r}, ETP rank {@code q}, EP rank {@code p}. */
  private record Rank(Layout layout, int r, int q, int p) {}

  /** §2.3 rows 4–13: copied 1:1, replicated, no −1 on {@code norm.weight}. */
  private void gatedDeltaNet(Map<String, HostTensor> out, String ld, String hl) {
    for (String tensor : GDN_TENSORS) {
      HostTensor value = hf(hl + "linear_attn." + tensor);
      if (tensor.equals("norm.weight") && deviation.gdnNormShift() != 0f) {
        value = value.plus(deviation.gdnNormShift());
      }
      out.put(ld + "self_attention.linear_attn." + tensor, value);
    }
    out.put(ld + "self_attention.input_layernorm.weight", hf(hl + "input_layernorm.weight"));
  }

  /** §2.4 rows 14–18. */
  private void fullAttention(Map<String, HostTensor> out, String ld, String hl, Rank rank) {
    int tp = rank.layout().tp();
    out.put(ld + "self_attention.linear_qkv.layer_norm_weight", hf(hl + "input_layernorm.weight"));
    out.put(ld + "self_attention.linear_qkv.weight", gatedQkv(hf(hl + "self_attn.q_proj.weight"),
        hf(hl + "self_attn.k_proj.weight"), hf(hl + "self_attn.v_proj.weight")).rowChunk(tp, rank.r()));
    out.put(ld + "self_attention.q_layernorm.weight", hf(hl + "self_attn.q_norm.weight"));
    out.put(ld + "self_attention.k_layernorm.weight", hf(hl + "self_attn.k_norm.weight"));
    out.put(ld + "self_attention.linear_proj.weight", hf(hl + "self_attn.o_proj.weight").columnChunk(tp, rank.r()));
  }

  /** §2.5 rows 19–21 (dense) or §2.6 rows 22–28 (MoE). */
  private void mlp(Map<String, HostTensor> out, String ld, String hl, Rank rank) {
    int tp = rank.layout().tp();
    if (experts == 0) {
      out.put(ld + "mlp.linear_fc1.layer_norm_weight", hf(hl + "post_attention_layernorm.weight"));
      out.put(ld + "mlp.linear_fc1.weight", swiglu(hf(hl + "mlp.gate_proj.weight"), hf(hl + "mlp.up_proj.weight"),
          tp, rank.r()));
      out.put(ld + "mlp.linear_fc2.weight", hf(hl + "mlp.down_proj.weight").columnChunk(tp, rank.r()));
      return;
    }
    out.put(ld + "pre_mlp_layernorm.weight", hf(hl + "post_attention_layernorm.weight"));
    out.put(ld + "mlp.router.weight", hf(hl + "mlp.gate.weight"));
    int etp = rank.layout().etp();
    int local = experts / rank.layout().ep();
    for (int j = 0; j < local; j++) {
      int e = rank.p() * local + j;
      HostTensor gate;
      HostTensor up;
      HostTensor down;
      if (hf.containsKey(hl + "mlp.experts.gate_up_proj")) {
        // Row 24: packed [E, 2Ie, H], slice [e] = [gate (Ie); up (Ie)].
        HostTensor gateUp = hf(hl + "mlp.experts.gate_up_proj").select(e);
        gate = gateUp.rows(0, expertFfn);
        up = gateUp.rows(expertFfn, expertFfn);
        down = hf(hl + "mlp.experts.down_proj").select(e);
      } else {
        // Row 33e: per-expert HF tensors, fc1 = cat(gate, up).
        String expert = hl + "mlp.experts." + e + ".";
        gate = hf(expert + "gate_proj.weight");
        up = hf(expert + "up_proj.weight");
        down = hf(expert + "down_proj.weight");
      }
      out.put(ld + "mlp.experts.linear_fc1.weight" + j, swiglu(gate, up, etp, rank.q()));
      out.put(ld + "mlp.experts.linear_fc2.weight" + j, down.columnChunk(etp, rank.q()));
    }
    out.put(ld + "mlp.shared_experts.linear_fc1.weight", swiglu(hf(hl + "mlp.shared_expert.gate_proj.weight"),
        hf(hl + "mlp.shared_expert.up_proj.weight"), tp, rank.r()));
    out.put(ld + "mlp.shared_experts.linear_fc2.weight",
        hf(hl + "mlp.shared_expert.down_proj.weight").columnChunk(tp, rank.r()));
    out.put(ld + "mlp.shared_experts.gate_weight", hf(hl + "mlp.shared_expert_gate.weight"));
  }

  /** §2.1 rule 3: {@code [chunk_r(gate); chunk_r(up)]}. */
  private static HostTensor swiglu(HostTensor gate, HostTensor up, int parts, int index) {
    return HostTensor.concatRows(List.of(gate.rowChunk(parts, index), up.rowChunk(parts, index)));
  }

  /**
   * §2.4's closed form of {@code linear_qkv} ({@code G = (2·hpg+2)·hd} rows per KV group), built row by row: query
   * row {@code (h div hpg)·G + (h mod hpg)·hd + d} ← q_proj row {@code 2h·hd + d}; gate row
   * {@code (h div hpg)·G + hpg·hd + (h mod hpg)·hd + d} ← q_proj row {@code 2h·hd + hd + d}; key row
   * {@code g·G + 2·hpg·hd + d} ← k_proj row {@code g·hd + d}; value row {@code g·G + (2·hpg+1)·hd + d} ← v_proj
   * row {@code g·hd + d}.
   */
  private HostTensor gatedQkv(HostTensor q, HostTensor k, HostTensor v) {
    int perGroup = heads / groups;
    int groupRows = (2 * perGroup + 2) * headDim;
    HostTensor[] rows = new HostTensor[groups * groupRows];
    for (int h = 0; h < heads; h++) {
      for (int d = 0; d < headDim; d++) {
        int base = (h / perGroup) * groupRows;
        rows[base + (h % perGroup) * headDim + d] = q.rows(2L * h * headDim + d, 1);
        rows[base + perGroup * headDim + (h % perGroup) * headDim + d] = q.rows(2L * h * headDim + headDim + d, 1);
      }
    }
    for (int g = 0; g < groups; g++) {
      for (int d = 0; d < headDim; d++) {
        rows[g * groupRows + 2 * perGroup * headDim + d] = k.rows((long) g * headDim + d, 1);
        rows[g * groupRows + (2 * perGroup + 1) * headDim + d] = v.rows((long) g * headDim + d, 1);
      }
    }
    if (q.shape()[0] != 2L * heads * headDim || k.shape()[0] != (long) groups * headDim
        || v.shape()[0] != (long) groups * headDim) {
      throw new IllegalArgumentException("q/k/v rows " + q + " " + k + " " + v);
    }
    return HostTensor.concatRows(List.of(rows));
  }

  private HostTensor hf(String name) {
    HostTensor tensor = hf.get(name);
    if (tensor == null) {
      throw new IllegalArgumentException("the HF folder has no tensor '" + name + "'");
    }
    return tensor;
  }
}
