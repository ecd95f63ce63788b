"""Loads an exported HF folder with transformers' from_pretrained and compares its logits with the
reference outputs stored beside the fixtures. Prints one JSON line; exit 0 when within tolerance."""
import json
import sys

import torch
import transformers
from safetensors.torch import load_file


def main() -> int:
    model_dir, reference_file, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
    reference = load_file(reference_file)
    config = transformers.AutoConfig.from_pretrained(model_dir)
    model_class = getattr(transformers, config.architectures[0])
    model = model_class.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    report = {"class": type(model).__name__, "transformers": transformers.__version__, "cases": {}}
    worst = 0.0
    with torch.no_grad():
        for case in ("text", "text_long"):
            key = f"{case}.input_ids"
            if key not in reference:
                continue
            ids = reference[key].to(torch.long).unsqueeze(0)
            logits = model(input_ids=ids).logits[0].float()
            expected = reference[f"{case}.logits"].float()
            diff = (logits - expected).abs().max().item()
            report["cases"][case] = diff
            worst = max(worst, diff)
    report["max_abs"] = worst
    print(json.dumps(report))
    return 0 if worst <= tolerance and report["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
