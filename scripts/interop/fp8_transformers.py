"""Proves a blockwise-FP8 HF folder exported by megabridge against its bf16 source, in torch and in transformers.

  fp8_transformers.py FP8_DIR BF16_SOURCE_DIR REFERENCE.safetensors [LOGITS_OUT.safetensors]

1. The folder, in plain torch: every F8_E4M3 tensor dequantized here (codes times the block scale expanded over
   its block) lies within one e4m3 step of the bf16 source element; every other tensor is the source's bytes;
   the names are the source's plus one scale per quantized tensor.
2. transformers' from_pretrained of the folder on CPU (float32 and bfloat16): each parameter of the loaded model
   is compared bit for bit with what it must be: the independent dequantization (q.float() * scale).to(dtype) for
   a quantized tensor, the source tensor in the parameter's dtype otherwise. A parameter that instead equals the
   raw codes (its scale ignored) is reported as such. Its logits on the reference prompts are compared with the
   bf16 source model's and with the source model holding the independently dequantized weights.
   LOGITS_OUT receives `<case>.logits` of the source model holding those weights rounded to bf16, computed in
   float64: what megabridge's runtime must reproduce on the folder (its float32 distance is reported).
3. The quantized layout as transformers' FP8 modules hold it (the GPU path, reached on CPU by skipping the
   quantizer's environment check): every code and scale tensor of the folder lands there bit for bit, every other
   tensor with its value (loaded in float32). transformers has no MTP module, so the mtp.* tensors are only
   counted; per-expert tensors are merged on load, so they are listed.

Prints one JSON line. Exit 0 when the folder proof holds and every loaded parameter is either exact or an ignored
scale (the caller judges those); 1 otherwise; a load failure is reported in the JSON, not raised.
"""
import json
import sys
import traceback
from pathlib import Path

import accelerate
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers.quantizers.quantizer_finegrained_fp8 import FineGrainedFP8HfQuantizer

E4M3 = torch.float8_e4m3fn
SMALLEST_NORMAL_E4M3 = 2.0 ** -6
MANTISSA_BITS_E4M3 = 3
CASES = ("text", "text_long")


def load_folder(directory: str) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(Path(directory).glob("*.safetensors")):
        tensors.update(load_file(str(file)))
    return tensors


def scale_name(name: str) -> str:
    """The scale of `X.weight` is `X.weight_scale_inv`; of a packed expert tensor `<name>` it is `<name>_scale_inv`."""
    return name + "_scale_inv"


def expanded_scale(scale: torch.Tensor, shape: torch.Size, block: tuple[int, int]) -> torch.Tensor:
    """The block scale repeated over its block rows x block columns, cut to the tensor's shape (last blocks may be
    narrower)."""
    rows, columns = shape[-2], shape[-1]
    return scale.repeat_interleave(block[0], dim=-2)[..., :rows, :].repeat_interleave(block[1], dim=-1)[..., :columns]


def dequantized(codes: torch.Tensor, scale: torch.Tensor, block: tuple[int, int]) -> torch.Tensor:
    """float(q) * scale computed in float32 (the reference definition; a bf16 value is this rounded once more)."""
    return codes.float() * expanded_scale(scale, codes.shape, block)


def e4m3_step(magnitude: torch.Tensor) -> torch.Tensor:
    """The distance between adjacent e4m3 values in the binade of `magnitude` (the subnormal spacing 2^-9 below
    the smallest normal 2^-6)."""
    _, exponent = torch.frexp(magnitude.clamp(min=SMALLEST_NORMAL_E4M3))
    return torch.ldexp(torch.ones_like(magnitude), exponent - 1 - MANTISSA_BITS_E4M3)


def bytes_equal(first: torch.Tensor, second: torch.Tensor) -> bool:
    return (first.dtype == second.dtype and first.shape == second.shape
            and torch.equal(first.contiguous().reshape(-1).view(torch.uint8),
                            second.contiguous().reshape(-1).view(torch.uint8)))


def prove_folder(fp8: dict, source: dict, block: tuple[int, int]) -> dict:
    quantized = sorted(name for name, tensor in fp8.items() if tensor.dtype == E4M3)
    scales = {scale_name(name) for name in quantized}
    report = {
        "quantized": len(quantized), "quantized_elements": 0, "over_one_step": [], "nan_codes": [],
        "max_error_in_steps": 0.0, "plain": 0, "plain_mismatched": [], "scales_missing": [],
        "missing": sorted(set(source) - (set(fp8) - scales)), "extra": sorted(set(fp8) - scales - set(source)),
    }
    for name in quantized:
        if scale_name(name) not in fp8:
            report["scales_missing"].append(name)
            continue
        codes, scale = fp8[name], fp8[scale_name(name)]
        if torch.isnan(codes.float()).any():
            report["nan_codes"].append(name)
        expected = source[name].float()
        scale_expanded = expanded_scale(scale, codes.shape, block)
        # One step at an element: the e4m3 spacing in the binade of the larger of |w| / scale and |q|, times the scale.
        magnitude = torch.maximum((expected / scale_expanded).abs(), codes.float().abs())
        step = e4m3_step(magnitude) * scale_expanded
        error_in_steps = (codes.float() * scale_expanded - expected).abs() / step
        worst = error_in_steps.max().item()
        report["quantized_elements"] += codes.numel()
        report["max_error_in_steps"] = max(report["max_error_in_steps"], worst)
        if not worst <= 1.0:
            report["over_one_step"].append({"name": name, "error_in_steps": worst})
    for name in sorted(set(fp8) - scales - set(quantized)):
        if name in source:
            report["plain"] += 1
            if not bytes_equal(fp8[name], source[name]):
                report["plain_mismatched"].append(name)
    report["holds"] = not any(report[key] for key in
                              ("over_one_step", "nan_codes", "plain_mismatched", "scales_missing", "missing", "extra"))
    return report


def expected_parameter(key: str, fp8: dict, block: tuple[int, int]):
    """What parameter `key` of the loaded model must be, as (float32 value or tensor of the file's dtype, raw codes
    or None), from the folder; None when the folder has no such tensor. Per-expert folders are merged as transformers'
    Qwen3.5-MoE conversion does: gate_up_proj[e] = cat(gate_e, up_e), down_proj[e] = down_e."""
    def one(name):
        if fp8[name].dtype == E4M3:
            return dequantized(fp8[name], fp8[scale_name(name)], block), fp8[name].float()
        return fp8[name], None

    if key in fp8:
        return one(key)
    for packed, parts in (("mlp.experts.gate_up_proj", ("gate_proj", "up_proj")), ("mlp.experts.down_proj",
                                                                                   ("down_proj",))):
        if not key.endswith(packed):
            continue
        prefix = key[: -len(packed)] + "mlp.experts."
        experts = []
        while f"{prefix}{len(experts)}.{parts[0]}.weight" in fp8:
            pieces = [one(f"{prefix}{len(experts)}.{part}.weight") for part in parts]
            codes = None if pieces[0][1] is None else torch.cat([piece[1] for piece in pieces])
            experts.append((torch.cat([piece[0] for piece in pieces]), codes))
        if experts:
            raw = None if experts[0][1] is None else torch.stack([expert[1] for expert in experts])
            return torch.stack([expert[0] for expert in experts]), raw
    return None


def compare_parameters(model, fp8: dict, block: tuple[int, int]) -> dict:
    report = {"exact": 0, "quantized_exact": 0, "scale_ignored": [], "other": [], "not_in_folder": []}
    for key, value in model.state_dict().items():
        expected = expected_parameter(key, fp8, block)
        if expected is None:
            report["not_in_folder"].append(key)
            continue
        want, codes = expected
        if torch.equal(value, want.to(value.dtype)):
            report["exact"] += 1
            report["quantized_exact"] += codes is not None
        elif codes is not None and torch.equal(value, codes.to(value.dtype)):
            report["scale_ignored"].append(key)
        else:
            report["other"].append(key)
    return report


def logits_of(model, reference: dict) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return {case: model(input_ids=reference[f"{case}.input_ids"].to(torch.long).unsqueeze(0)).logits[0].float()
                for case in CASES if f"{case}.input_ids" in reference}


def max_abs(first: dict, second: dict) -> dict[str, float]:
    return {case: (first[case] - second[case]).abs().max().item() for case in first}


def model_class(directory: str):
    return getattr(transformers, transformers.AutoConfig.from_pretrained(directory).architectures[0])


def load_dequantized(fp8_dir: str, fp8: dict, block: tuple[int, int], reference: dict, bf16_logits: dict,
                     dequantized_logits: dict) -> dict:
    report = {}
    try:
        loaded = {}
        for dtype in (torch.float32, torch.bfloat16):
            model, info = model_class(fp8_dir).from_pretrained(fp8_dir, dtype=dtype, attn_implementation="eager",
                                                               experts_implementation="eager", output_loading_info=True)
            loaded[str(dtype).removeprefix("torch.")] = model
            report.setdefault("unexpected_keys", sorted(info["unexpected_keys"]))
            report.setdefault("missing_keys", sorted(info["missing_keys"]))
        explicit = model_class(fp8_dir).from_pretrained(
            fp8_dir, dtype=torch.float32, attn_implementation="eager", experts_implementation="eager",
            quantization_config=transformers.FineGrainedFP8Config(dequantize=True))
    except Exception as error:  # the proof then rests on the folder check; the error is the finding
        report["loaded"] = False
        report["error"] = f"{type(error).__name__}: {error}"
        report["traceback"] = traceback.format_exc(limit=4)
        return report
    report["loaded"] = True
    report["class"] = type(loaded["float32"]).__name__
    report["parameters"] = {dtype: compare_parameters(model, fp8, block) for dtype, model in loaded.items()}
    explicit_state = explicit.state_dict()
    report["explicit_dequantize_identical"] = all(
        torch.equal(value, explicit_state[key]) for key, value in loaded["float32"].state_dict().items())
    fp8_logits = logits_of(loaded["float32"].eval(), reference)
    report["logits_vs_dequantized_weights"] = max_abs(fp8_logits, dequantized_logits)
    report["logits_vs_bf16"] = max_abs(fp8_logits, bf16_logits)
    return report


def load_quantized(fp8_dir: str, fp8: dict) -> dict:
    """The FP8 modules' own parameters (weights in e4m3 and their scales), as transformers holds them on a GPU."""
    check = FineGrainedFP8HfQuantizer.validate_environment
    FineGrainedFP8HfQuantizer.validate_environment = lambda self, *args, **kwargs: None
    try:
        # float32 for the high-precision tensors (the folder's F32 ones would otherwise be cast to bf16).
        model, info = model_class(fp8_dir).from_pretrained(fp8_dir, dtype=torch.float32, output_loading_info=True)
    except Exception as error:
        return {"loaded": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        FineGrainedFP8HfQuantizer.validate_environment = check
    state = model.state_dict()
    present = [name for name in fp8 if name in state]
    fp8_part = [name for name in present if fp8[name].dtype == E4M3 or name.endswith("_scale_inv")]
    others = [name for name in present if name not in fp8_part]
    absent = sorted(name for name in fp8 if name not in state)
    return {
        "loaded": True, "codes_and_scales": len(fp8_part),
        "codes_and_scales_identical": sum(bytes_equal(state[name], fp8[name]) for name in fp8_part),
        "others": len(others), "others_equal": sum(torch.equal(state[name], fp8[name].float()) for name in others),
        "mtp_not_in_model": sum(name.startswith("mtp.") for name in absent),
        "not_in_model": [name for name in absent if not name.startswith("mtp.")],
        "e4m3_parameters": sum(value.dtype == E4M3 for value in state.values()),
        "unexpected_keys": sorted(info["unexpected_keys"]), "missing_keys": sorted(info["missing_keys"]),
    }


def main() -> int:
    fp8_dir, source_dir, reference_file = sys.argv[1], sys.argv[2], sys.argv[3]
    logits_file = sys.argv[4] if len(sys.argv) > 4 else None
    config = json.loads((Path(fp8_dir) / "config.json").read_text())["quantization_config"]
    block = tuple(config["weight_block_size"])
    fp8, source, reference = load_folder(fp8_dir), load_folder(source_dir), load_file(reference_file)
    report = {"transformers": transformers.__version__, "torch": torch.__version__,
              "accelerate": accelerate.__version__, "block": list(block)}
    report["folder"] = prove_folder(fp8, source, block)

    # Eager experts (here and in every model whose logits are compared): the grouped-mm kernel has no float64 version.
    source_model = model_class(source_dir).from_pretrained(source_dir, dtype=torch.float32, attn_implementation="eager",
                                                           experts_implementation="eager").eval()
    bf16_logits = logits_of(source_model, reference)
    # A check that the source model is the fixture (the reference holds bf16-weight logits for some cases).
    report["bf16_vs_reference"] = max_abs({case: bf16_logits[case] for case in bf16_logits
                                           if f"bf16w.{case}.logits" in reference},
                                          {case: reference[f"bf16w.{case}.logits"].float() for case in bf16_logits
                                           if f"bf16w.{case}.logits" in reference})
    # The source model holding the weights dequantized here: what a correct FP8 load must compute.
    replaced = {}
    for key, value in source_model.state_dict().items():
        expected = expected_parameter(key, fp8, block)
        if expected is not None and expected[1] is not None:
            replaced[key] = expected[0]
    source_model.load_state_dict(replaced, strict=False)
    dequantized_logits = logits_of(source_model, reference)
    report["replaced_parameters"] = len(replaced)
    report["dequantized_weights_vs_bf16"] = max_abs(dequantized_logits, bf16_logits)
    if logits_file is not None:
        # What a runtime reading the folder dequantized to bf16 computes in float32.
        source_model.load_state_dict({key: value.to(torch.bfloat16).float() for key, value in replaced.items()},
                                     strict=False)
        # Computed in float64 as the reference, with transformers' own float32 distance from it as the measure of
        # how much float32 rounding these weights amplify (FP8 weights make the tiny models less well conditioned).
        fp32_logits = logits_of(source_model, reference)
        with torch.no_grad():
            fp64_logits = {case: source_model.double()(input_ids=reference[f"{case}.input_ids"].to(torch.long)
                                                        .unsqueeze(0)).logits[0] for case in fp32_logits}
        report["runtime_reference_fp32_vs_fp64"] = {
            case: (fp32_logits[case].double() - fp64_logits[case]).abs().max().item() for case in fp32_logits}
        save_file({f"{case}.logits": logits.float().contiguous() for case, logits in fp64_logits.items()}, logits_file)

    report["dequantized_load"] = load_dequantized(fp8_dir, fp8, block, reference, bf16_logits, dequantized_logits)
    report["quantized_load"] = load_quantized(fp8_dir, fp8)
    print(json.dumps(report))
    parameters = report["dequantized_load"].get("parameters", {})
    return 0 if report["folder"]["holds"] and not any(check["other"] for check in parameters.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
