"""Checks megabridge's Java torch_dist writer/reader against real PyTorch (spec §7.3).

verify-java CKPT WORK : CKPT was written by Java; WORK/expected.safetensors holds the global tensors it should
                        contain. Loads CKPT with torch's own readers and writes WORK/report.json.
save-torch  CKPT WORK : writes CKPT with torch.distributed.checkpoint.save (single process, no process group)
                        plus WORK/expected.safetensors, WORK/expected.json and WORK/views.pt for Java to check.
"""
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
    if os.path.exists(common):
        torch.serialization.add_safe_globals([argparse.Namespace])
        report["common_weights_only"] = canonical(torch.load(common, weights_only=True))
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


def main():
    command, ckpt, work = sys.argv[1:4]
    if command == "verify-java":
        verify_java(ckpt, work)
    elif command == "save-torch":
        save_torch(ckpt, work)
    else:
        raise SystemExit(f"unknown command {command}")
    print(f"interop.py {command}: ok (torch {torch.__version__})")


if __name__ == "__main__":
    main()
