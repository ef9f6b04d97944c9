"""Tiny random checkpoints of each Nemotron family, written the way the hub ships them.

Each builder writes config.json, safetensors weights (optionally sharded) and the harness
tokenizer with the family's chat template into a directory that `vllm serve` and
transformers both load. Widths keep head_dim >= 32: the CPU attention needs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedModel

import vllm_nemotron.chat_templates as chat_templates

from .tokenizer import SPECIAL_TOKENS, save_tokenizer


def _save_model(model: PreTrainedModel, path: Path, num_shards: int) -> None:

    model = model.float()
    total = sum(p.numel() * p.element_size() for p in model.state_dict().values())
    shard = f"{max(1, total // num_shards // 1000 + 1)}KB" if num_shards > 1 else "10GB"
    model.save_pretrained(str(path), safe_serialization=True, max_shard_size=shard)


def _patch_config(path: Path, **fields: Any) -> dict:
    cfg_path = path / "config.json"
    cfg = json.loads(cfg_path.read_text())
    for key, value in fields.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return cfg


def _build(path: str | Path, arch: str, fields: dict, overrides: dict, *, template: str | None,
           eos_token: str, bos_token: str | None = None, seed: int, num_shards: int,
           **config_patch: Any) -> Path:
    """Tokenizer + random float32 weights + config.json for transformers' class `arch`."""
    import torch
    import transformers

    path = Path(path)
    vocab = save_tokenizer(path, chat_templates.text(template) if template else None,
                           eos_token=eos_token, bos_token=bos_token)
    fields = dict(vocab_size=vocab, eos_token_id=SPECIAL_TOKENS.index(eos_token),
                  pad_token_id=SPECIAL_TOKENS.index("<|end_of_text|>"),
                  bos_token_id=SPECIAL_TOKENS.index(bos_token or "<|begin_of_text|>"),
                  max_position_embeddings=4096, **fields)
    fields.update(overrides)
    model_cls = getattr(transformers, arch)
    torch.manual_seed(seed)
    config = model_cls.config_class(**fields)
    config.architectures = [arch]
    model = model_cls(config)
    _init_visible(model, seed)
    _save_model(model, path, num_shards)
    _patch_config(path, torch_dtype="float32", **config_patch)
    return path


def build_nemotron_h(path: str | Path, *, pattern: str = "M*-M",
                     template: str | None = "nemotron_nano_v3", seed: int = 0,
                     num_shards: int = 1, **overrides: Any) -> Path:
    """A hybrid Mamba2 (M) / attention (*) / MLP (-) model, like NVIDIA-Nemotron-Nano-9B-v2."""
    fields = dict(
        hidden_size=128, hybrid_override_pattern=pattern, num_hidden_layers=len(pattern),
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, intermediate_size=256,
        mlp_hidden_act="relu2", ssm_state_size=16, mamba_num_heads=8, mamba_head_dim=32,
        n_groups=2, conv_kernel=4, expand=2, chunk_size=32, tie_word_embeddings=False,
    )
    # The hub's configs name the layers by pattern; keep that form.
    return _build(path, "NemotronHForCausalLM", fields, overrides, template=template,
                  eos_token="<|im_end|>", seed=seed, num_shards=num_shards,
                  hybrid_override_pattern=pattern, num_hidden_layers=len(pattern),
                  layers_block_type=None, time_step_limit=None)


def build_nemotron4(path: str | Path, *, template: str | None = "nemotron_mini", seed: int = 0,
                    num_shards: int = 1, **overrides: Any) -> Path:
    """A Nemotron-4 (`NemotronForCausalLM`) model, like Nemotron-Mini-4B-Instruct."""
    fields = dict(
        hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, partial_rotary_factor=0.5, hidden_act="relu2",
        tie_word_embeddings=False,
    )
    return _build(path, "NemotronForCausalLM", fields, overrides, template=template,
                  eos_token="<extra_id_1>", seed=seed, num_shards=num_shards)


def build_llama(path: str | Path, *, template: str | None = "llama_nemotron_tools", seed: int = 0,
                num_shards: int = 1, **overrides: Any) -> Path:
    """A `LlamaForCausalLM` model, like Llama-3.1-Nemotron-Nano-4B-v1.1."""
    fields = dict(
        hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, tie_word_embeddings=False,
    )
    return _build(path, "LlamaForCausalLM", fields, overrides, template=template,
                  eos_token="<|eot_id|>", bos_token="<|begin_of_text|>", seed=seed,
                  num_shards=num_shards)


def _init_visible(model: PreTrainedModel, seed: int) -> None:
    """Re-draw every weight with a spread that makes greedy choices well separated.

    transformers' default init (std 0.02, zero-ish norms) gives near-uniform logits in a
    tiny model, where float rounding between two implementations could flip a greedy token.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm.weight", "norm_f.weight")) or ".norm." in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=gen) / (p.shape[-1] ** 0.5))
