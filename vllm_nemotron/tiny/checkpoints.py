"""Tiny random checkpoints of each Nemotron family, written the way the hub ships them.

Each builder writes config.json, safetensors weights (optionally sharded) and the harness
tokenizer with the family's chat template into a directory that `vllm serve` and
transformers both load. Widths keep head_dim >= 32: the CPU attention needs it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
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
           prepare: Callable[[PreTrainedModel], None] | None = None,
           finish: Callable[[PreTrainedModel, Path], None] | None = None,
           **config_patch: Any) -> Path:
    """Tokenizer + random float32 weights + config.json for transformers' class `arch`;
    `prepare(model)` edits the weights before saving, `finish(model, path)` what was saved."""
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
    if prepare:
        prepare(model)
    _save_model(model, path, num_shards)
    _patch_config(path, torch_dtype="float32", **config_patch)
    if finish:
        finish(model, path)
    return path


# Routed experts, shared expert and router of Nemotron-3's MoE layers, at tiny width: 16 experts,
# top-4 (Nano-30B-A3B: 128, top-6; Super-120B-A12B: 512, top-22), one shared expert twice as
# wide as a routed one, sigmoid routing in one group, as in both published configs.
TINY_MOE = dict(n_routed_experts=16, num_experts_per_tok=4, n_shared_experts=1,
                moe_intermediate_size=128, moe_shared_expert_intermediate_size=256,
                n_group=1, topk_group=1, norm_topk_prob=True, routed_scaling_factor=2.5)

# Scale of the token embedding in a draftable checkpoint: the residual stream then carries the
# last token about as loudly as everything the layers add.
DRAFTABLE_EMBEDDING_SCALE = 30.0


def build_nemotron_h(path: str | Path, *, pattern: str = "M*-M",
                     template: str | None = "nemotron_nano_v3", seed: int = 0,
                     num_shards: int = 1, mtp_pattern: str | None = None,
                     draftable: bool = False, **overrides: Any) -> Path:
    """A hybrid Mamba2 (M) / attention (*) / MLP (-) / MoE (E) model, like
    NVIDIA-Nemotron-Nano-9B-v2 (dense) or Nemotron-3 Nano-30B-A3B / Super-120B-A12B (MoE).

    - `E` layers (here or in `mtp_pattern`) get `TINY_MOE`'s experts; `moe_latent_size=...`
      makes them latent MoE, as in Super.
    - `mtp_pattern` (e.g. Super's "*E") adds one multi-token-prediction layer group with the
      names the real checkpoints use (`mtp.layers.{i}.*`, in a shard of its own) and sets
      `num_nextn_predict_layers: 1`, `mtp_hybrid_override_pattern`.
    - `draftable`: greedy decoding mostly follows a fixed next-token map (the embedding is
      scaled up and each token's embedding is the lm_head row of its successor), and the MTP
      layer's fusion projection passes the next token's embedding through (to the target's
      final norm): its drafts are what the model says next, often enough for speculative
      decoding to accept some, while the layers still change some tokens.
    - `tie_word_embeddings=True` writes no `lm_head`, as tied hub checkpoints ship.
    """
    fields = dict(
        hidden_size=128, hybrid_override_pattern=pattern, num_hidden_layers=len(pattern),
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, intermediate_size=256,
        mlp_hidden_act="relu2", ssm_state_size=16, mamba_num_heads=8, mamba_head_dim=32,
        n_groups=2, conv_kernel=4, expand=2, chunk_size=32, tie_word_embeddings=False,
    )
    if "E" in pattern + (mtp_pattern or ""):
        fields.update(TINY_MOE)

    def finish(model: PreTrainedModel, path: Path) -> None:
        if model.config.tie_word_embeddings:
            _edit_weights(path, drop={"lm_head.weight"})
        if mtp_pattern:
            _edit_weights(path, add=_mtp_weights(model, mtp_pattern, seed, draftable))
            _patch_config(path, num_nextn_predict_layers=1,
                          mtp_hybrid_override_pattern=mtp_pattern, mtp_layers_block_type=None)

    def make_draftable(model: PreTrainedModel) -> None:
        if draftable:
            _follow_successors(model, seed)

    # The hub's configs name the layers by pattern; keep that form.
    return _build(path, "NemotronHForCausalLM", fields, overrides, template=template,
                  eos_token="<|im_end|>", seed=seed, num_shards=num_shards, finish=finish,
                  prepare=make_draftable, hybrid_override_pattern=pattern,
                  num_hidden_layers=len(pattern), layers_block_type=None, time_step_limit=None)


def build_nemotron3_nano_moe(path: str | Path, **kwargs: Any) -> Path:
    """Nemotron-3 Nano-30B-A3B's layout at tiny width: the opening of its layer pattern
    (Mamba/MoE pairs, an attention layer), shared + routed experts, routed scale 2.5."""
    return build_nemotron_h(path, **{"pattern": "MEMEM*E", **kwargs})


def build_nemotron3_super(path: str | Path, **kwargs: Any) -> Path:
    """Nemotron-3 Super-120B-A12B's layout at tiny width: the opening of its layer pattern,
    latent MoE (`moe_latent_size`), routed scale 5.0, and one MTP layer group "*E"."""
    return build_nemotron_h(path, **{"pattern": "MEMEMEM*E", "moe_latent_size": 64,
                                     "routed_scaling_factor": 5.0, "mtp_pattern": "*E",
                                     **kwargs})


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
        # MoE routers: a nonzero score correction (it biases which experts are chosen, not
        # their weights), so that path is exercised too.
        for name, b in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                b.copy_(0.1 * torch.randn(b.shape, generator=gen))


def _follow_successors(model: PreTrainedModel, seed: int) -> None:
    """Make token t's logits peak at successor[t] when the residual stream is t's embedding."""
    import torch

    gen = torch.Generator().manual_seed(seed + 3)
    embeddings = model.model.embeddings.weight.data
    successor = torch.randperm(embeddings.shape[0], generator=gen)
    unit = embeddings / embeddings.norm(dim=-1, keepdim=True)
    model.lm_head.weight.data[successor] = unit
    embeddings *= DRAFTABLE_EMBEDDING_SCALE


def _mtp_weights(model: PreTrainedModel, pattern: str, seed: int,
                 draftable: bool) -> dict[str, torch.Tensor]:
    """One MTP layer group: the blocks of `pattern` (named as transformers names a backbone's,
    experts one by one) under `mtp.layers.{i}.`, the first with the fusion of the next token's
    embedding and the hidden state (enorm, hnorm, eh_proj), the last with final_layernorm."""
    import torch
    from safetensors.torch import load_file

    config = model.config.to_dict()
    config.update(layers_block_type=None, hybrid_override_pattern=pattern,
                  num_hidden_layers=len(pattern), num_nextn_predict_layers=0)
    torch.manual_seed(seed + 1)
    blocks = type(model)(type(model.config)(**config))
    _init_visible(blocks, seed + 1)
    with tempfile.TemporaryDirectory() as tmp:
        _save_model(blocks, Path(tmp), 1)
        saved = load_file(str(Path(tmp) / "model.safetensors"))
    weights = {"mtp." + name.removeprefix("backbone."): tensor for name, tensor in saved.items()
               if name.startswith("backbone.layers.")}

    hidden = model.config.hidden_size
    gen = torch.Generator().manual_seed(seed + 2)
    first, last = "mtp.layers.0.", f"mtp.layers.{len(pattern) - 1}."
    weights[first + "enorm.weight"] = 1.0 + 0.1 * torch.randn(hidden, generator=gen)
    weights[first + "hnorm.weight"] = 1.0 + 0.1 * torch.randn(hidden, generator=gen)
    weights[first + "eh_proj.weight"] = torch.randn(hidden, 2 * hidden, generator=gen) / (
        2 * hidden) ** 0.5
    weights[last + "final_layernorm.weight"] = 1.0 + 0.1 * torch.randn(hidden, generator=gen)
    if draftable:
        # eh_proj's input is [enorm(embedding of the next token), hnorm(hidden)]: keep the
        # first half, loud enough to drown the MTP blocks, and end on the target's final norm.
        weights[first + "enorm.weight"] = torch.ones(hidden)
        weights[first + "eh_proj.weight"] = torch.cat(
            [100.0 * torch.eye(hidden), torch.zeros(hidden, hidden)], dim=1)
        weights[last + "final_layernorm.weight"] = model.model.norm_f.weight.detach().clone()
    return {name: t.float().contiguous() for name, t in weights.items()}


def _edit_weights(path: Path, *, drop: set[str] | frozenset[str] = frozenset(),
                  add: dict[str, torch.Tensor] | None = None) -> None:
    """Drop tensors from the saved shards and/or add a shard, keeping (or starting) the
    safetensors index that vLLM and transformers both read."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    index_path = path / "model.safetensors.index.json"
    if index_path.exists():
        weight_map = json.loads(index_path.read_text())["weight_map"]
    else:
        with safe_open(str(path / "model.safetensors"), "pt") as f:
            weight_map = {name: "model.safetensors" for name in f.keys()}
    for shard in {weight_map[name] for name in drop if name in weight_map}:
        tensors = load_file(str(path / shard))
        save_file({k: v for k, v in tensors.items() if k not in drop}, str(path / shard),
                  metadata={"format": "pt"})
    weight_map = {name: shard for name, shard in weight_map.items() if name not in drop}
    if add:
        save_file(add, str(path / "model-mtp.safetensors"), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(add, "model-mtp.safetensors"))
    total = 0
    for shard in set(weight_map.values()):
        total += sum(t.numel() * t.element_size() for t in load_file(str(path / shard)).values())
    index_path.write_text(json.dumps({"metadata": {"total_size": total},
                                      "weight_map": dict(sorted(weight_map.items()))}, indent=2))
