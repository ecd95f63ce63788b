"""Checks megabridge's Java torch_dist writer/reader against real PyTorch (spec §7.3).

verify-java CKPT WORK : CKPT was written by Java; WORK/expected.safetensors holds the global tensors it should
                        contain. Loads CKPT with torch's own readers (the common state from common.pt or from the
                        v0.19 bytes item common_state/shard_0_1, weights_only) and writes WORK/report.json.
save-torch  CKPT WORK : writes CKPT with torch.distributed.checkpoint.save (single process, no process group)
                        plus WORK/expected.safetensors, WORK/expected.json and WORK/views.pt for Java to check.
verify-qwen WORK (CKPT HF)... : each CKPT is a Qwen3.5(-VL) torch_dist checkpoint written by Java from the HF
                        folder HF. The Megatron tensors are computed here, independently, from the HF safetensors
                        with the transforms of megatron-checkpoint-format.md §5-§6 and megatron-bridge-spec.md §3;
                        torch's DCP readers load CKPT and everything is compared; the common state is read from
                        common.pt or the v0.19 object (common_form says which). Writes WORK/qwen-report.json.
save-qwen   CKPT HF   : writes the same expected Megatron tensors for HF with torch.distributed.checkpoint.save, as
                        a trained Megatron checkpoint would hold them: vocabulary padded to a multiple of 128 rows
                        plus one more block, MTP under the short-lived 'mtp_model_layer' name, optimizer and RNG
                        state beside the model. Java must export HF back from it bit for bit.
"""
import glob
import argparse
import io
import json
import os
import pickle
import sys
import tempfile

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import format_utils
from safetensors.torch import load_file, save_file


def canonical(value):
    """A JSON-able description of a loaded Python object (tensors by dtype, shape and small values)."""
    if isinstance(value, torch.Tensor):
        out = {"tensor": str(value.dtype), "shape": list(value.shape)}
        if value.numel() <= 16:
            out["values"] = value.float().flatten().tolist() if value.is_floating_point() else value.flatten().tolist()
        return out
    if isinstance(value, argparse.Namespace):
        return {"Namespace": canonical(vars(value))}
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, io.BytesIO):
        return {"bytes": value.getvalue().hex()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"repr": repr(value)}


def bit_equal(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    return torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8))


def sharded_common_state(ckpt, metadata):
    """Megatron >= v0.19's common state, the bytes item common_state/shard_0_1 = torch.save([dict]), loaded
    weights_only as Megatron does; None when the checkpoint has none."""
    torch.serialization.add_safe_globals([argparse.Namespace])
    for index, info in metadata.storage_data.items():
        if index.fqn == "common_state/shard_0_1":
            with open(os.path.join(ckpt, info.relative_path), "rb") as f:
                f.seek(info.offset)
                raw = f.read(info.length)
            return torch.load(io.BytesIO(raw), weights_only=True)
    return None


def verify_java(ckpt, work):
    expected = load_file(os.path.join(work, "expected.safetensors"))
    with open(os.path.join(ckpt, ".metadata"), "rb") as f:
        metadata = pickle.load(f)
    report = {"metadata_keys": sorted(metadata.state_dict_metadata.keys()), "tensors": {}, "objects": {}}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.pt")
        format_utils.dcp_to_torch_save(ckpt, out)
        full = torch.load(out, weights_only=False)
    for key, value in full.items():
        if isinstance(value, torch.Tensor):
            entry = {"dtype": str(value.dtype), "shape": list(value.shape)}
            if key in expected:
                entry["equal_dcp_to_torch_save"] = bit_equal(value, expected[key])
                # A targeted load exercises storage_data lookup and every chunk archive.
                target = {key: torch.empty(expected[key].shape, dtype=expected[key].dtype)}
                dcp.load(target, checkpoint_id=ckpt, no_dist=True)
                entry["equal_dcp_load"] = bit_equal(target[key], expected[key])
            report["tensors"][key] = entry
        else:
            report["objects"][key] = canonical(value)
    zip64 = os.path.join(work, "zip64.pt")
    if os.path.exists(zip64):
        # an archive whose every record uses zip64 entry fields, written by Java
        loaded = torch.load(zip64, weights_only=True)
        report["zip64_equal"] = bit_equal(loaded, expected["zip64"])
    common = os.path.join(ckpt, "common.pt")
    torch.serialization.add_safe_globals([argparse.Namespace])
    if os.path.exists(common):
        report["common_weights_only"] = canonical(torch.load(common, weights_only=True))
    sharded = sharded_common_state(ckpt, metadata)
    if sharded is not None:
        report["common_state_weights_only"] = canonical(sharded)
    with open(os.path.join(ckpt, "metadata.json")) as f:
        report["metadata_json"] = json.load(f)
    with open(os.path.join(work, "report.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


def save_torch(ckpt, work):
    generator = torch.Generator().manual_seed(1234)
    base = torch.randn(6, 8, generator=generator)
    state = {
        "model": {
            "embedding.weight": torch.randn(5, 7, generator=generator).to(torch.bfloat16),
            "layers.0.proj.weight": torch.randn(4, 6, generator=generator),
            "layers.0.norm.weight": torch.randn(3, generator=generator).to(torch.float16),
            "layers.0.counts": torch.arange(6, dtype=torch.int64).reshape(2, 3),
            "layers.0.mask": torch.tensor([True, False, True]),
            "transposed": base.t(),
            "sliced": base[1:4, 2:7],
            "scalar": torch.tensor(2.5, dtype=torch.float64),
        },
        "raw_blob": io.BytesIO(b"\x00megabridge\xff"),
        "trainer": {"step": 5, "names": ["a", "b"], "lr": 0.25},
    }
    dcp.save(state, checkpoint_id=ckpt, no_dist=True)
    flat = {f"model.{k}": v.contiguous().clone() for k, v in state["model"].items()}
    save_file(flat, os.path.join(work, "expected.safetensors"))
    torch.save({"transposed": base.t(), "sliced": base[1:4, 2:7], "row": base[2], "base": base},
               os.path.join(work, "views.pt"))
    save_file({"transposed": base.t().clone(memory_format=torch.contiguous_format), "sliced": base[1:4, 2:7].clone(),
               "row": base[2].clone(), "base": base.clone()}, os.path.join(work, "views.safetensors"))
    with open(os.path.join(work, "expected.json"), "w") as f:
        json.dump({"raw_blob": b"\x00megabridge\xff".hex()}, f)


# ---------------------------------------------------------------------------------------------- Qwen3.5


def load_hf(hf_dir):
    tensors = {}
    for file in sorted(glob.glob(os.path.join(hf_dir, "*.safetensors"))):
        tensors.update(load_file(file))
    with open(os.path.join(hf_dir, "config.json")) as f:
        config = json.load(f)
    return tensors, config


def gated_qkv(q_proj, k_proj, v_proj, heads, groups, head_dim):
    """megatron-checkpoint-format §6.3: per query group [q heads, gate heads, k, v]; HF q_proj is per head
    [query (hd) ; gate (hd)]."""
    hidden = q_proj.shape[1]
    q = q_proj.reshape(heads, 2, head_dim, hidden)
    per_group = heads // groups
    k = k_proj.reshape(groups, head_dim, hidden)
    v = v_proj.reshape(groups, head_dim, hidden)
    rows = []
    for g in range(groups):
        heads_of_group = slice(g * per_group, (g + 1) * per_group)
        rows += [q[heads_of_group, 0].reshape(-1, hidden), q[heads_of_group, 1].reshape(-1, hidden), k[g], v[g]]
    return torch.cat(rows, 0)


def vision_qkv(qkv, heads):
    """Vision attention: HF [Q; K; V] (head-major) -> Megatron per head [q_h; k_h; v_h]."""
    rest = qkv.shape[1:]
    head_dim = qkv.shape[0] // (3 * heads)
    return qkv.reshape(3, heads, head_dim, *rest).transpose(0, 1).reshape(qkv.shape)


def zero_centred(norm):
    """GDN out_norm: Megatron stores gamma - 1 (computed in fp32, rounded once to the stored dtype)."""
    return (norm.float() - 1.0).to(norm.dtype)


def expected_qwen(hf_dir):
    """{key: tensor} of a TP=1 Megatron Qwen3.5(-VL) torch_dist checkpoint, plus the expected TE modules."""
    hf, config = load_hf(hf_dir)
    text = config.get("text_config", config)
    vl = "vision_config" in config
    lm = "language_model." if vl else ""
    hl = "model.language_model." if vl else "model."
    heads, groups, head_dim = text["num_attention_heads"], text["num_key_value_heads"], text["head_dim"]
    key_dim = text["linear_num_key_heads"] * text["linear_key_head_dim"]
    value_dim = text["linear_num_value_heads"] * text["linear_value_head_dim"]
    moe = "num_experts" in text and text.get("num_experts")
    out, te = {}, []

    def mlp(dst, src):
        if not moe:
            out[dst + "mlp.linear_fc1.layer_norm_weight"] = hf[src + "post_attention_layernorm.weight"]
            out[dst + "mlp.linear_fc1.weight"] = torch.cat([hf[src + "mlp.gate_proj.weight"], hf[src + "mlp.up_proj.weight"]])
            out[dst + "mlp.linear_fc2.weight"] = hf[src + "mlp.down_proj.weight"]
            te.extend([dst + "mlp.linear_fc1", dst + "mlp.linear_fc2"])
            return
        experts = text["num_experts"]
        out[dst + "pre_mlp_layernorm.weight"] = hf[src + "post_attention_layernorm.weight"]
        out[dst + "mlp.router.weight"] = hf[src + "mlp.gate.weight"]
        if src + "mlp.experts.gate_up_proj" in hf:
            fc1 = hf[src + "mlp.experts.gate_up_proj"]
            fc2 = hf[src + "mlp.experts.down_proj"]
        else:
            fc1 = torch.stack([torch.cat([hf[f"{src}mlp.experts.{e}.gate_proj.weight"],
                                          hf[f"{src}mlp.experts.{e}.up_proj.weight"]]) for e in range(experts)])
            fc2 = torch.stack([hf[f"{src}mlp.experts.{e}.down_proj.weight"] for e in range(experts)])
        out[dst + "mlp.experts.experts.linear_fc1.weight"] = fc1
        out[dst + "mlp.experts.experts.linear_fc2.weight"] = fc2
        out[dst + "mlp.shared_experts.linear_fc1.weight"] = torch.cat(
            [hf[src + "mlp.shared_expert.gate_proj.weight"], hf[src + "mlp.shared_expert.up_proj.weight"]])
        out[dst + "mlp.shared_experts.linear_fc2.weight"] = hf[src + "mlp.shared_expert.down_proj.weight"]
        out[dst + "mlp.shared_experts.gate_weight"] = hf[src + "mlp.shared_expert_gate.weight"]
        te.append(dst + "pre_mlp_layernorm")
        for fc in ("linear_fc1", "linear_fc2"):
            te.extend(f"{dst}mlp.experts.experts.{fc}@{e}/{experts}" for e in range(experts))
        te.extend([dst + "mlp.shared_experts.linear_fc1", dst + "mlp.shared_experts.linear_fc2"])

    def attention(dst, src):
        a = dst + "self_attention."
        out[a + "linear_qkv.layer_norm_weight"] = hf[src + "input_layernorm.weight"]
        out[a + "linear_qkv.weight"] = gated_qkv(hf[src + "self_attn.q_proj.weight"], hf[src + "self_attn.k_proj.weight"],
                                                 hf[src + "self_attn.v_proj.weight"], heads, groups, head_dim)
        out[a + "q_layernorm.weight"] = hf[src + "self_attn.q_norm.weight"]
        out[a + "k_layernorm.weight"] = hf[src + "self_attn.k_norm.weight"]
        out[a + "linear_proj.weight"] = hf[src + "self_attn.o_proj.weight"]
        te.extend(a + m for m in ("linear_qkv", "q_layernorm", "k_layernorm", "linear_proj"))

    def gdn(dst, src):
        a, s = dst + "self_attention.", src + "linear_attn."
        qkv = hf[s + "in_proj_qkv.weight"]
        conv = hf[s + "conv1d.weight"]
        out[a + "in_proj.layer_norm_weight"] = hf[src + "input_layernorm.weight"]
        for name, rows in (("query", slice(0, key_dim)), ("key", slice(key_dim, 2 * key_dim)),
                           ("value", slice(2 * key_dim, 2 * key_dim + value_dim))):
            out[a + "in_proj.weight." + name] = qkv[rows]
            out[a + "conv1d.weight." + name] = conv[rows]
        out[a + "in_proj.weight.z"] = hf[s + "in_proj_z.weight"]
        out[a + "in_proj.weight.beta"] = hf[s + "in_proj_b.weight"]
        out[a + "in_proj.weight.alpha"] = hf[s + "in_proj_a.weight"]
        out[a + "A_log"] = hf[s + "A_log"]
        out[a + "dt_bias"] = hf[s + "dt_bias"]
        out[a + "out_norm.weight"] = zero_centred(hf[s + "norm.weight"])
        out[a + "out_proj.weight"] = hf[s + "out_proj.weight"]
        te.extend(a + m for m in ("in_proj", "out_norm", "out_proj"))

    out[lm + "embedding.word_embeddings.weight"] = hf[hl + "embed_tokens.weight"]
    for n, layer_type in enumerate(text["layer_types"]):
        dst, src = f"{lm}decoder.layers.{n}.", f"{hl}layers.{n}."
        (attention if layer_type == "full_attention" else gdn)(dst, src)
        mlp(dst, src)
    out[lm + "decoder.final_layernorm.weight"] = hf[hl + "norm.weight"]
    te.append(lm + "decoder.final_layernorm")
    if "lm_head.weight" in hf:
        out[lm + "output_layer.weight"] = hf["lm_head.weight"]
    if "mtp.fc.weight" in hf:
        m = lm + "mtp.layers.0."
        out[m + "eh_proj.weight"] = hf["mtp.fc.weight"]
        out[m + "enorm.weight"] = hf["mtp.pre_fc_norm_embedding.weight"]
        out[m + "hnorm.weight"] = hf["mtp.pre_fc_norm_hidden.weight"]
        out[m + "final_layernorm.weight"] = hf["mtp.norm.weight"]
        te.extend(m + x for x in ("eh_proj", "enorm", "hnorm", "final_layernorm"))
        attention(m + "transformer_layer.", "mtp.layers.0.")
        mlp(m + "transformer_layer.", "mtp.layers.0.")
    if vl:
        vision = config["vision_config"]
        depth, v = vision["depth"], "model.visual."
        out["vision_model.patch_embed.proj.weight"] = hf[v + "patch_embed.proj.weight"]
        out["vision_model.patch_embed.proj.bias"] = hf[v + "patch_embed.proj.bias"]
        out["vision_model.pos_embed.weight"] = hf[v + "pos_embed.weight"]
        stacked = {
            "self_attention.linear_qkv.layer_norm_weight": lambda b: hf[b + "norm1.weight"],
            "self_attention.linear_qkv.layer_norm_bias": lambda b: hf[b + "norm1.bias"],
            "self_attention.linear_qkv.weight": lambda b: vision_qkv(hf[b + "attn.qkv.weight"], vision["num_heads"]),
            "self_attention.linear_qkv.bias": lambda b: vision_qkv(hf[b + "attn.qkv.bias"], vision["num_heads"]),
            "self_attention.linear_proj.weight": lambda b: hf[b + "attn.proj.weight"],
            "self_attention.linear_proj.bias": lambda b: hf[b + "attn.proj.bias"],
            "mlp.linear_fc1.layer_norm_weight": lambda b: hf[b + "norm2.weight"],
            "mlp.linear_fc1.layer_norm_bias": lambda b: hf[b + "norm2.bias"],
            "mlp.linear_fc1.weight": lambda b: hf[b + "mlp.linear_fc1.weight"],
            "mlp.linear_fc1.bias": lambda b: hf[b + "mlp.linear_fc1.bias"],
            "mlp.linear_fc2.weight": lambda b: hf[b + "mlp.linear_fc2.weight"],
            "mlp.linear_fc2.bias": lambda b: hf[b + "mlp.linear_fc2.bias"],
        }
        for name, source in stacked.items():
            out["vision_model.decoder.layers." + name] = torch.stack([source(f"{v}blocks.{l}.") for l in range(depth)])
        for module in ("self_attention.linear_qkv", "self_attention.linear_proj", "mlp.linear_fc1", "mlp.linear_fc2"):
            te.extend(f"vision_model.decoder.layers.{module}@{l}/{depth}" for l in range(depth))
        for name, source in (("patch_norm", "norm"), ("linear_fc1", "linear_fc1"), ("linear_fc2", "linear_fc2")):
            out[f"vision_model.merger.{name}.weight"] = hf[f"{v}merger.{source}.weight"]
            out[f"vision_model.merger.{name}.bias"] = hf[f"{v}merger.{source}.bias"]
            te.append("vision_model.merger." + name)
    extra_states = []
    for module in te:
        name, _, axis = module.partition("@")
        index, count = axis.split("/") if axis else ("0", "1")
        extra_states.append(f"{name}._extra_state/shard_{index}_{count}")
    return out, extra_states


def verify_qwen(work, pairs):
    report = {}
    for ckpt, hf_dir in pairs:
        expected, extra_states = expected_qwen(hf_dir)
        with open(os.path.join(ckpt, ".metadata"), "rb") as f:
            dcp_metadata = pickle.load(f)
        metadata = dcp_metadata.state_dict_metadata
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.pt")
            format_utils.dcp_to_torch_save(ckpt, out)
            full = torch.load(out, weights_only=False)
        tensors = {k: v for k, v in full.items() if isinstance(v, torch.Tensor)}
        entry = {
            "missing": sorted(set(expected) - set(tensors)),
            "unexpected": sorted(set(tensors) - set(expected)),
            "extra_states_missing": sorted(set(extra_states) - set(full)),
            "extra_states_unexpected": sorted(k for k in full if "_extra_state" in k and k not in set(extra_states)),
            "different": sorted(k for k in expected if k in tensors and not bit_equal(tensors[k], expected[k])),
            "tensor_count": len(tensors),
            "extra_state_count": len(extra_states),
            "chunks": {k: [list(c.offsets) + ["/"] + list(c.sizes) for c in v.chunks]
                       for k, v in metadata.items() if hasattr(v, "chunks")},
            "dtypes": {k: str(v.dtype) for k, v in tensors.items()},
            "shapes": {k: list(v.shape) for k, v in tensors.items()},
        }
        # Targeted loads through storage_data, as Megatron's loader does, of every expected key.
        target = {k: torch.empty(v.shape, dtype=v.dtype) for k, v in expected.items() if k in tensors}
        dcp.load(target, checkpoint_id=ckpt, no_dist=True)
        entry["different_dcp_load"] = sorted(k for k, v in target.items() if not bit_equal(v, expected[k]))
        extra = [full[k] for k in extra_states if k in full]
        entry["extra_states_empty_uint8"] = all(
            isinstance(x, list) and len(x) == 1 and x[0].dtype == torch.uint8 and x[0].numel() == 0 for x in extra)
        torch.serialization.add_safe_globals([argparse.Namespace])
        common = os.path.join(ckpt, "common.pt")
        if os.path.exists(common):
            entry["common_form"] = "common.pt"
            entry["common"] = canonical(torch.load(common, weights_only=True))
        else:
            sharded = sharded_common_state(ckpt, dcp_metadata)
            entry["common_form"] = "common_state/shard_0_1"
            entry["common"] = canonical(sharded[0]) if isinstance(sharded, list) and len(sharded) == 1 else None
        report[ckpt] = entry
    with open(os.path.join(work, "qwen-report.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


def save_qwen(ckpt, hf_dir):
    expected, _ = expected_qwen(hf_dir)
    state = {}
    for key, tensor in expected.items():
        if key.endswith("embedding.word_embeddings.weight") or key.endswith("output_layer.weight"):
            padded_rows = (tensor.shape[0] // 128 + 1) * 128
            padding = torch.full((padded_rows - tensor.shape[0], tensor.shape[1]), 7.0, dtype=tensor.dtype)
            tensor = torch.cat([tensor, padding])
        state[key.replace(".transformer_layer.", ".mtp_model_layer.")] = tensor
    first = next(iter(expected))
    state["optimizer.state.exp_avg." + first] = torch.zeros_like(expected[first])
    state["rng_state"] = io.BytesIO(b"not model state")
    dcp.save(state, checkpoint_id=ckpt, no_dist=True)


def main():
    command = sys.argv[1]
    if command == "verify-qwen":
        rest = sys.argv[3:]
        verify_qwen(sys.argv[2], list(zip(rest[0::2], rest[1::2])))
        print(f"interop.py {command}: ok (torch {torch.__version__})")
        return
    ckpt, work = sys.argv[2:4]
    if command == "verify-java":
        verify_java(ckpt, work)
    elif command == "save-torch":
        save_torch(ckpt, work)
    elif command == "save-qwen":
        save_qwen(ckpt, work)
    else:
        raise SystemExit(f"unknown command {command}")
    print(f"interop.py {command}: ok (torch {torch.__version__})")


if __name__ == "__main__":
    main()
