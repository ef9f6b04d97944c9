"""Quantize a tiny checkpoint's linear weights the way a compressed-tensors W4A16 checkpoint
ships them: symmetric int4, one scale per group of input channels, packed into int32.

The CPU build of vLLM runs this format (its WNA16 kernel; FP8 needs a GPU or AMX there), and
every DeciLM linear, the linear replacements included, must load through it. The packing is
compressed-tensors' own (a vLLM dependency); the rounding and the dequantized weights the
reference uses are computed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .decilm import _save_shards, load_checkpoint

GROUP_SIZE = 32
LINEAR_WEIGHTS = ("_proj.weight", "linear_attn.weight", "linear_mlp.weight")


def quantization_config(group_size: int = GROUP_SIZE) -> dict:
    """config.json's `quantization_config` for a W4A16 compressed-tensors checkpoint."""
    weights = {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group",
               "group_size": group_size, "dynamic": False, "actorder": None}
    return {"quant_method": "compressed-tensors", "format": "pack-quantized",
            "quantization_status": "compressed", "ignore": ["lm_head"],
            "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights,
                                          "input_activations": None, "output_activations": None}}}


def quantize_w4a16(state_dict: dict[str, torch.Tensor], group_size: int = GROUP_SIZE):
    """(packed checkpoint tensors, the same weights dequantized back to float) for every linear."""
    from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32

    packed, dequantized = {}, {}
    for name, weight in state_dict.items():
        if not name.endswith(LINEAR_WEIGHTS):
            packed[name] = dequantized[name] = weight
            continue
        rows, cols = weight.shape
        groups = weight.view(rows, cols // group_size, group_size)
        scale = groups.abs().amax(-1, keepdim=True) / 7
        ints = torch.clamp(torch.round(groups / scale), -8, 7)
        dequantized[name] = (ints * scale).view(rows, cols)
        base = name[: -len("weight")]
        packed[base + "weight_packed"] = pack_to_int32(ints.view(rows, cols).to(torch.int8), 4)
        packed[base + "weight_scale"] = scale.view(rows, cols // group_size)
        packed[base + "weight_shape"] = torch.tensor([rows, cols], dtype=torch.int64)
    return packed, dequantized


def quantize_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Rewrite a float DeciLM checkpoint in place as W4A16; return the dequantized weights."""
    path = Path(path)
    config, state_dict = load_checkpoint(path)
    packed, dequantized = quantize_w4a16(state_dict)
    for shard in path.glob("*.safetensors*"):
        shard.unlink()
    _save_shards(packed, path, num_shards=2)
    config["quantization_config"] = quantization_config()
    (path / "config.json").write_text(json.dumps(config, indent=2))
    return dequantized
