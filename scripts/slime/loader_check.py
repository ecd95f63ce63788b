"""slime's HF -> Megatron loader rules, re-implemented from slime-native-schema.md, checked against a megabridge
slime-schema torch_dist checkpoint with torch.distributed.checkpoint.

    loader_check.py WORK (CKPT HF VP)...

Each CKPT (the release/ folder) was written by megabridge from the HF folder HF with VP embedding rows. For every
parameter of slime's native model (global names, TP 1 / EP 1 / PP 1: what a torch_dist save holds) the loader's
tensor is built as slime does (§2.1): qwen3_5_hf_tensor semantics (the full Megatron tensor from the HF safetensors,
rows §2.2-§2.8), zero vocabulary padding to VP rows, the generic shard_mcore_tensor at TP size 1, and the cast to the
parameter dtype bf16 (§2.10). torch's DCP reader loads CKPT (metadata, then every key), and the keys, shapes, chunks
and _extra_state objects of §4.2 / §2.9 and the common.pt args of §4.4 / §6.4 are checked. Writes
WORK/slime-loader-report.json ({CKPT: lists of problems, all empty when CKPT agrees}).

Two deliberate extensions of slime's loader, both producing the tensor slime would produce from the equivalent
checkpoint: per-expert HF experts are read as well as packed ones (slime reads only packed main-decoder experts,
§2.6), and text-only HF folders (model.layers.*) as well as VL ones (§7.6).
"""
import argparse
import glob
import json
import os
import re
import sys

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint.metadata import BytesStorageMetadata
from safetensors.torch import load_file

GDN_TENSORS = ("dt_bias", "A_log", "conv1d.weight", "in_proj_qkv.weight", "in_proj_z.weight", "in_proj_b.weight",
               "in_proj_a.weight", "norm.weight", "out_proj.weight")
EXPERT = re.compile(r"mlp\.experts\.linear_fc([12])(?:\.weight)?(\d+)?$")


class Model:
    """The dimensions slime reads from the HF config (§1.1, §5)."""

    def __init__(self, hf_dir):
        with open(os.path.join(hf_dir, "config.json")) as f:
            self.config = json.load(f)
        self.text = self.config.get("text_config", self.config)
        self.vl = "vision_config" in self.config
        self.lm = "language_model." if self.vl else ""
        self.hl = "model.language_model." if self.vl else "model."
        t = self.text
        self.layers = t["num_hidden_layers"]
        self.hidden = t["hidden_size"]
        self.heads, self.groups, self.head_dim = t["num_attention_heads"], t["num_key_value_heads"], t["head_dim"]
        self.experts = t.get("num_experts") or 0
        self.expert_ffn = t.get("moe_intermediate_size") or 0
        self.vocab = t["vocab_size"]
        self.tied = bool(self.config.get("tie_word_embeddings") or t.get("tie_word_embeddings"))
        self.mtp = (t.get("mtp_num_hidden_layers") or 0) > 0
        interval = t.get("full_attention_interval", 4)
        self.layer_types = t.get("layer_types") or [
            "full_attention" if (i + 1) % interval == 0 else "linear_attention" for i in range(self.layers)]
        self.hf = {}
        for file in sorted(glob.glob(os.path.join(hf_dir, "*.safetensors"))):
            self.hf.update(load_file(file))

    # ------------------------------------------------------------------------------------ the model's parameters

    def layer_params(self, prefix, layer_type):
        names = []
        if layer_type == "linear_attention":
            names += [f"{prefix}self_attention.linear_attn.{x}" for x in GDN_TENSORS]
            names.append(f"{prefix}self_attention.input_layernorm.weight")
        else:
            names += [prefix + "self_attention." + x for x in (
                "linear_qkv.layer_norm_weight", "linear_qkv.weight", "q_layernorm.weight", "k_layernorm.weight",
                "linear_proj.weight")]
        if not self.experts:
            names += [prefix + "mlp." + x for x in ("linear_fc1.layer_norm_weight", "linear_fc1.weight",
                                                    "linear_fc2.weight")]
        else:
            names += [prefix + "pre_mlp_layernorm.weight", prefix + "mlp.router.weight"]
            names += [f"{prefix}mlp.experts.linear_fc{k}.weight{e}" for k in (1, 2) for e in range(self.experts)]
            names += [prefix + "mlp.shared_experts." + x for x in ("linear_fc1.weight", "linear_fc2.weight",
                                                                   "gate_weight")]
        return names

    def params(self):
        """Global parameter names of slime's model at TP 1 / EP 1 / PP 1 (§2.1: decoder.layers.{N}, weight{e})."""
        names = [self.lm + "embedding.word_embeddings.weight"]
        for n, layer_type in enumerate(self.layer_types):
            names += self.layer_params(f"{self.lm}decoder.layers.{n}.", layer_type)
        names.append(self.lm + "decoder.final_layernorm.weight")
        if not self.tied:
            names.append(self.lm + "output_layer.weight")
        if self.mtp:
            mt = self.lm + "mtp.layers.0."
            names += [mt + x for x in ("eh_proj.weight", "enorm.weight", "hnorm.weight", "final_layernorm.weight")]
            # §2.7: the MTP inner layer is built from the last decoder layer's spec (full attention).
            names += self.layer_params(mt + "transformer_layer.", "full_attention")
        if self.vl:
            names += sorted(n for n in self.hf if n.startswith("model.visual."))
        return names

    # ----------------------------------------------------------------------------- qwen3_5_hf_tensor semantics

    def merge_qkv(self, src):
        """§2.4: q.reshape(ng, hpg, 2, hd, H).transpose(1, 2), then per group cat(q, k, v)."""
        ng, hd, hidden = self.groups, self.head_dim, self.hidden
        hpg = self.heads // ng
        q = self.hf[src + "self_attn.q_proj.weight"].reshape(ng, hpg, 2, hd, hidden).transpose(1, 2)
        q = q.reshape(ng, 2 * hpg * hd, hidden)
        k = self.hf[src + "self_attn.k_proj.weight"].reshape(ng, hd, hidden)
        v = self.hf[src + "self_attn.v_proj.weight"].reshape(ng, hd, hidden)
        return torch.cat([q, k, v], dim=1).reshape(-1, hidden)

    def expert(self, src, fc, index):
        packed = src + ("mlp.experts.gate_up_proj" if fc == "1" else "mlp.experts.down_proj")
        if packed in self.hf:
            return self.hf[packed] if index is None else self.hf[packed][index]
        e = f"{src}mlp.experts.{index}."
        if fc == "1":
            return torch.cat([self.hf[e + "gate_proj.weight"], self.hf[e + "up_proj.weight"]])
        return self.hf[e + "down_proj.weight"]

    def layer_tensor(self, rest, src):
        hf = self.hf
        simple = {
            "self_attention.input_layernorm.weight": "input_layernorm.weight",
            "self_attention.linear_qkv.layer_norm_weight": "input_layernorm.weight",
            "self_attention.q_layernorm.weight": "self_attn.q_norm.weight",
            "self_attention.k_layernorm.weight": "self_attn.k_norm.weight",
            "self_attention.linear_proj.weight": "self_attn.o_proj.weight",
            "mlp.linear_fc1.layer_norm_weight": "post_attention_layernorm.weight",
            "pre_mlp_layernorm.weight": "post_attention_layernorm.weight",
            "mlp.linear_fc2.weight": "mlp.down_proj.weight",
            "mlp.router.weight": "mlp.gate.weight",
            "mlp.shared_experts.linear_fc2.weight": "mlp.shared_expert.down_proj.weight",
            "mlp.shared_experts.gate_weight": "mlp.shared_expert_gate.weight",
        }
        if rest.startswith("self_attention.linear_attn."):
            return hf[src + rest[len("self_attention."):]]
        if rest in simple:
            return hf[src + simple[rest]]
        if rest == "self_attention.linear_qkv.weight":
            return self.merge_qkv(src)
        if rest == "mlp.linear_fc1.weight":
            return torch.cat([hf[src + "mlp.gate_proj.weight"], hf[src + "mlp.up_proj.weight"]])
        if rest == "mlp.shared_experts.linear_fc1.weight":
            return torch.cat([hf[src + "mlp.shared_expert.gate_proj.weight"],
                              hf[src + "mlp.shared_expert.up_proj.weight"]])
        match = EXPERT.match(rest)
        if match:
            return self.expert(src, match.group(1), None if match.group(2) is None else int(match.group(2)))
        raise KeyError(f"no HF source for Megatron parameter '{rest}' of {src}")

    def hf_tensor(self, name):
        """The full, unsharded Megatron tensor of one parameter name."""
        hf = self.hf
        if name.startswith("model.visual."):
            return hf[name]
        bare = name[len(self.lm):] if name.startswith(self.lm) else name
        if bare == "embedding.word_embeddings.weight":
            return hf[self.hl + "embed_tokens.weight"]
        if bare == "output_layer.weight":
            return hf[self.hl + "embed_tokens.weight"] if self.tied else hf["lm_head.weight"]
        if bare == "decoder.final_layernorm.weight":
            return hf[self.hl + "norm.weight"]
        layer = re.match(r"decoder\.layers\.(\d+)\.(.+)$", bare)
        if layer:
            return self.layer_tensor(layer.group(2), f"{self.hl}layers.{layer.group(1)}.")
        mtp = {"mtp.layers.0.eh_proj.weight": "mtp.fc.weight",
               "mtp.layers.0.enorm.weight": "mtp.pre_fc_norm_embedding.weight",
               "mtp.layers.0.hnorm.weight": "mtp.pre_fc_norm_hidden.weight",
               "mtp.layers.0.final_layernorm.weight": "mtp.norm.weight"}
        if bare in mtp:
            return hf[mtp[bare]]
        if bare.startswith("mtp.layers.0.transformer_layer."):
            return self.layer_tensor(bare[len("mtp.layers.0.transformer_layer."):], "mtp.layers.0.")
        raise KeyError(f"no HF source for Megatron parameter '{name}'")


# ------------------------------------------------------------------------------------------------ sharding (§2.1)

COLUMN = ("linear_qkv.weight", "linear_fc1.weight", "embedding.word_embeddings.weight", "output_layer.weight",
          "eh_proj.weight")
ROW = ("linear_proj.weight", "linear_fc2.weight")


def tensor_parallel_dim(name):
    """Megatron's (tensor_model_parallel, partition_dim) of a parameter; GDN, vision and norms are replicated."""
    if name.startswith("model.visual.") or ".linear_attn." in name:
        return False, -1
    base = re.sub(r"\.weight\d+$", ".weight", name)
    if base.endswith(COLUMN):
        return True, 0
    if base.endswith(ROW):
        return True, 1
    return False, -1


def shard_mcore_tensor(name, full, tp_size, tp_rank, etp_size, etp_rank):
    """slime's generic sharder, rules 1-5 of §2.1 (stride 1)."""
    parallel, dim = tensor_parallel_dim(name)
    if not parallel:
        return full
    size, rank = (etp_size, etp_rank) if ".experts." in name else (tp_size, tp_rank)
    if size == 1:
        return full
    if "linear_fc1.weight" in name or "linear_fc1.bias" in name:
        gate, up = full.chunk(2, dim=dim)
        return torch.cat([gate.chunk(size, dim=dim)[rank], up.chunk(size, dim=dim)[rank]], dim=dim)
    if "linear_fc2.weight" in name and dim == 0:
        dim = 1
    return full.chunk(size, dim=dim)[rank]


def pad_vocab(name, tensor, rows):
    if name.endswith("embedding.word_embeddings.weight") or name.endswith("output_layer.weight"):
        padding = torch.zeros((rows - tensor.shape[0],) + tuple(tensor.shape[1:]), dtype=tensor.dtype)
        return torch.cat([tensor, padding])
    return tensor


def loader_tensors(model, padded_vocab):
    """{checkpoint key: tensor} as slime's loader fills a TP 1 / EP 1 model, keyed as §4.2 stores it."""
    out, experts = {}, {}
    for name in model.params():
        tensor = shard_mcore_tensor(name, pad_vocab(name, model.hf_tensor(name), padded_vocab), 1, 0, 1, 0)
        tensor = tensor.to(torch.bfloat16)
        grouped = re.match(r"(.*\.mlp\.experts)\.(linear_fc[12])\.weight(\d+)$", name)
        if grouped:
            key = f"{grouped.group(1)}.experts.{grouped.group(2)}.weight"
            experts.setdefault(key, {})[int(grouped.group(3))] = tensor
        else:
            out[name] = tensor
    for key, by_expert in experts.items():
        out[key] = torch.stack([by_expert[e] for e in range(len(by_expert))])
    return out


# ------------------------------------------------------------------------------------------- expected TE objects


def extra_state_modules(model):
    """§2.9: modules with _extra_state (TE modules); GDN, vision, embedding, router, gate, output have none."""
    modules = []

    def layer(prefix, layer_type):
        if layer_type == "full_attention":
            modules.extend(prefix + "self_attention." + m for m in ("linear_qkv", "linear_proj", "q_layernorm",
                                                                     "k_layernorm"))
        if not model.experts:
            modules.extend([prefix + "mlp.linear_fc1", prefix + "mlp.linear_fc2"])
        else:
            modules.extend([prefix + "pre_mlp_layernorm", prefix + "mlp.shared_experts.linear_fc1",
                            prefix + "mlp.shared_experts.linear_fc2"])
            modules.extend(f"{prefix}mlp.experts.experts.linear_fc{k}@{e}"
                           for k in (1, 2) for e in range(model.experts))

    for n, layer_type in enumerate(model.layer_types):
        layer(f"{model.lm}decoder.layers.{n}.", layer_type)
    modules.append(model.lm + "decoder.final_layernorm")
    if model.mtp:
        mt = model.lm + "mtp.layers.0."
        modules.extend(mt + m for m in ("eh_proj", "enorm", "hnorm", "final_layernorm"))
        layer(mt + "transformer_layer.", "full_attention")
    return modules


# --------------------------------------------------------------------------------------------------------- check


def bit_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(
        a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))


def check(ckpt, hf_dir, padded_vocab):
    model = Model(hf_dir)
    expected = loader_tensors(model, padded_vocab)
    metadata = FileSystemReader(ckpt).read_metadata().state_dict_metadata
    tensors = {k: v for k, v in metadata.items() if not isinstance(v, BytesStorageMetadata)}
    objects = sorted(k for k, v in metadata.items() if isinstance(v, BytesStorageMetadata))
    report = {
        "missing": sorted(set(expected) - set(tensors)),
        "unexpected": sorted(set(tensors) - set(expected)),
        "wrong_shape": sorted(f"{k}: {list(tensors[k].size)} != {list(v.shape)}" for k, v in expected.items()
                              if k in tensors and tuple(tensors[k].size) != tuple(v.shape)),
        "wrong_dtype": sorted(f"{k}: {v.properties.dtype}" for k, v in tensors.items()
                              if v.properties.dtype != torch.bfloat16),
        # §4.2: per-layer keys decoder.layers.N, never a stacked decoder.layers.<name> axis.
        "stacked_layer_keys": sorted(k for k in metadata if re.search(r"(^|\.)layers\.[a-z_]", k)),
        # §4.2: the HF modules (GDN, vision) are replicated, one chunk each covering the whole tensor.
        "not_single_chunk": sorted(k for k, v in tensors.items()
                                   if (".linear_attn." in k or ".self_attention.input_layernorm." in k
                                       or k.startswith("model.visual."))
                                   and (len(v.chunks) != 1 or any(v.chunks[0].offsets)
                                        or tuple(v.chunks[0].sizes) != tuple(v.size))),
        "embedding_shape": list(tensors[model.lm + "embedding.word_embeddings.weight"].size),
        "tensor_count": len(tensors),
        "extra_state_count": len(objects),
    }
    # Every key through torch's DCP loader, as Megatron's load does.
    state = {k: torch.empty(tuple(v.size), dtype=v.properties.dtype) for k, v in tensors.items()}
    dcp.load(state, storage_reader=FileSystemReader(ckpt), no_dist=True)
    report["different"] = sorted(k for k, v in expected.items() if k in state and not bit_equal(state[k], v))
    report["pad_rows_not_zero"] = sorted(
        k for k in state if (k.endswith("embedding.word_embeddings.weight") or k.endswith("output_layer.weight"))
        and bool(state[k][model.vocab:].float().abs().sum() != 0))

    expected_objects = set()
    for module in extra_state_modules(model):
        name, _, expert = module.partition("@")
        shard = f"shard_{expert}_{model.experts}" if expert else "shard_0_1"
        expected_objects.add(f"{name}._extra_state/{shard}")
    report["extra_states_missing"] = sorted(expected_objects - set(objects))
    report["extra_states_unexpected"] = sorted(set(objects) - expected_objects)
    report["extra_states_of_hf_modules"] = sorted(
        k for k in objects if ".linear_attn" in k or ".self_attention.input_layernorm" in k or k.startswith("model."))

    torch.serialization.add_safe_globals([argparse.Namespace])
    common = torch.load(os.path.join(ckpt, "common.pt"), weights_only=True)
    args = vars(common["args"])
    wanted = {"num_layers": model.layers, "hidden_size": model.hidden, "num_attention_heads": model.heads,
              "num_query_groups": model.groups, "kv_channels": model.head_dim, "vocab_size": model.vocab,
              "q_lora_rank": None}
    if model.experts:
        wanted["num_experts"] = model.experts
    problems = [f"args.{k} = {args.get(k, '<absent>')!r}, expected {v!r}" for k, v in wanted.items()
                if k not in args or args[k] != v]
    problems += [f"args.{k} absent or not an int: {args.get(k)!r}" for k in
                 ("tensor_model_parallel_size", "pipeline_model_parallel_size") if not isinstance(args.get(k), int)]
    if "padded_vocab_size" in args and args["padded_vocab_size"] != padded_vocab:
        problems.append(f"args.padded_vocab_size = {args['padded_vocab_size']}, expected {padded_vocab}")
    if common.get("checkpoint_version") != 3.0:
        problems.append(f"checkpoint_version = {common.get('checkpoint_version')!r}, expected 3.0")
    report["common_problems"] = problems
    return report


def main():
    work, rest = sys.argv[1], sys.argv[2:]
    if not rest or len(rest) % 3:
        raise SystemExit("usage: loader_check.py WORK (CKPT HF VP)...")
    report = {}
    for ckpt, hf_dir, padded_vocab in zip(rest[0::3], rest[1::3], rest[2::3]):
        report[ckpt] = check(ckpt, hf_dir, int(padded_vocab))
    with open(os.path.join(work, "slime-loader-report.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    print(f"loader_check.py: {len(report)} checkpoints checked (torch {torch.__version__})")


if __name__ == "__main__":
    main()
