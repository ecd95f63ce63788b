"""The blockwise FP8 reference algorithm in torch (docs/formats.md section 5), written from its definition.

quantize IN OUT   : for every tensor X of IN (rank >= 2), writes X (float8_e4m3fn codes) and X.scale (float32
                    block scales) to OUT, with blocks of 128 x 128 over the last two axes:
                    pad with zeros to whole blocks; amax = max |w| over the block in float32;
                    scale = max(amax, 1e-12) / 448; q = clamp(w / scale, -448, 448) rounded to e4m3fn; drop the pad.
dequantize IN OUT : IN holds pairs X (float8_e4m3fn) and X.scale; writes X as (q.float() * scale_expanded) in
                    bfloat16 and X.f32 in float32.
"""
import sys

import torch
from safetensors.torch import load_file, save_file

BLOCK = 128
FP8_MAX = 448.0


def padded_blocks(weight):
    rows, columns = weight.shape[-2:]
    pad_rows = (-rows) % BLOCK
    pad_columns = (-columns) % BLOCK
    padded = torch.nn.functional.pad(weight.float(), (0, pad_columns, 0, pad_rows))
    lead = padded.shape[:-2]
    blocks = padded.reshape(*lead, padded.shape[-2] // BLOCK, BLOCK, padded.shape[-1] // BLOCK, BLOCK)
    return blocks, rows, columns


def quantize(weight):
    blocks, rows, columns = padded_blocks(weight)
    amax = blocks.abs().amax(dim=(-3, -1))
    scale = torch.clamp(amax, min=1e-12) / FP8_MAX
    scaled = blocks / scale.unsqueeze(-1).unsqueeze(-3)
    codes = torch.clamp(scaled, -FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    lead = codes.shape[:-4]
    codes = codes.reshape(*lead, codes.shape[-4] * BLOCK, codes.shape[-2] * BLOCK)[..., :rows, :columns]
    return codes.contiguous(), scale.float().contiguous()


def expand(scale, rows, columns):
    expanded = scale.repeat_interleave(BLOCK, dim=-2).repeat_interleave(BLOCK, dim=-1)
    return expanded[..., :rows, :columns]


def main():
    command, source, target = sys.argv[1:4]
    tensors = load_file(source)
    out = {}
    if command == "quantize":
        for name, weight in tensors.items():
            codes, scale = quantize(weight)
            out[name] = codes
            out[name + ".scale"] = scale
    elif command == "dequantize":
        for name, codes in tensors.items():
            if name.endswith(".scale"):
                continue
            rows, columns = codes.shape[-2:]
            values = codes.float() * expand(tensors[name + ".scale"], rows, columns)
            out[name] = values.to(torch.bfloat16).contiguous()
            out[name + ".f32"] = values.contiguous()
    else:
        raise SystemExit("usage: reference.py quantize|dequantize IN OUT")
    save_file(out, target)


if __name__ == "__main__":
    main()
