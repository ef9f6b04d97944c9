"""Tiny DeciLM (`nemotron-nas`) checkpoints and an independent reference forward in plain torch.

transformers has no DeciLM, so the reference here is written from the architecture's
definition: pre-norm residual layers whose attention and FFN are each full, skipped or a
single linear, per-layer grouped-query attention with rotary embeddings and an optional
sliding window, and a gated FFN act(gate) * up. It shares no code with the plugin.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from vllm_nemotron.tiny import SPECIAL_TOKENS, save_tokenizer

HIDDEN = 128
HEADS = 4
HEAD_DIM = HIDDEN // HEADS  # 32: the CPU attention needs head_dim >= 32


def full_attention(n_heads_in_group: int = 1, **extra) -> dict:
    return {"no_op": False, "replace_with_linear": False, "n_heads_in_group": n_heads_in_group,
            **extra}


def full_ffn(**width) -> dict:
    return {"no_op": False, "replace_with_linear": False, **width}


NO_OP = {"no_op": True, "replace_with_linear": False}
LINEAR = {"no_op": False, "replace_with_linear": True}

# One checkpoint that exercises every block variant (layer: attention | ffn). The first
# attention that is not a no-op is a linear replacement (Nemotron-51B's layout), which in-tree
# vLLM's architecture summary cannot read.
VARIANT_BLOCKS = [
    {"attention": NO_OP, "ffn": full_ffn(ffn_mult=1.5)},                          # no-op attn first
    {"attention": LINEAR, "ffn": full_ffn(ffn_mult=2.0, hidden_act="gelu")},      # linear attn
    {"attention": full_attention(2), "ffn": full_ffn(intermediate_size=192)},     # GQA 2 KV heads
    {"attention": full_attention(4), "ffn": LINEAR},                              # 1 KV head
    {"attention": NO_OP, "ffn": full_ffn(intermediate_size=320)},                 # FFN-only
    {"attention": NO_OP, "ffn": full_ffn(ffn_mult=1.0, hidden_act="gelu_pytorch_tanh")},
    {"attention": full_attention(1, window_length=8), "ffn": NO_OP},              # window, MHA
    {"attention": full_attention(2), "ffn": full_ffn(intermediate_size=256)},
]


def uniform_blocks(num_layers: int = 2, n_heads_in_group: int = 2, intermediate_size: int = 256):
    return [{"attention": full_attention(n_heads_in_group),
             "ffn": full_ffn(intermediate_size=intermediate_size)} for _ in range(num_layers)]


def _intermediate_size(ffn: dict) -> int:
    if ffn.get("intermediate_size") is not None:
        return ffn["intermediate_size"]
    size = int(2 * ffn["ffn_mult"] * HIDDEN / 3)
    return math.ceil(size / 256) * 256


def random_state_dict(config: dict, seed: int) -> dict[str, torch.Tensor]:
    """HF-named DeciLM weights with a spread that keeps greedy choices well separated."""
    gen = torch.Generator().manual_seed(seed)
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    kv_dim = lambda g: HEADS // g * HEAD_DIM  # noqa: E731

    def mat(rows, cols):
        return torch.randn(rows, cols, generator=gen) / cols**0.5

    def norm():
        return 1.0 + 0.1 * torch.randn(hidden, generator=gen)

    sd = {"model.embed_tokens.weight": torch.randn(vocab, hidden, generator=gen)}
    for i, block in enumerate(config["block_configs"]):
        p = f"model.layers.{i}."
        attn, ffn = block["attention"], block["ffn"]
        if not attn["no_op"]:
            sd[p + "input_layernorm.weight"] = norm()
            if attn["replace_with_linear"]:
                sd[p + "self_attn.linear_attn.weight"] = mat(hidden, hidden)
            else:
                g = attn["n_heads_in_group"]
                sd[p + "self_attn.q_proj.weight"] = mat(HEADS * HEAD_DIM, hidden)
                sd[p + "self_attn.k_proj.weight"] = mat(kv_dim(g), hidden)
                sd[p + "self_attn.v_proj.weight"] = mat(kv_dim(g), hidden)
                sd[p + "self_attn.o_proj.weight"] = mat(hidden, HEADS * HEAD_DIM)
        if not ffn["no_op"]:
            sd[p + "post_attention_layernorm.weight"] = norm()
            if ffn["replace_with_linear"]:
                sd[p + "mlp.linear_mlp.weight"] = mat(hidden, hidden)
            else:
                inter = _intermediate_size(ffn)
                sd[p + "mlp.gate_proj.weight"] = mat(inter, hidden)
                sd[p + "mlp.up_proj.weight"] = mat(inter, hidden)
                sd[p + "mlp.down_proj.weight"] = mat(hidden, inter)
    sd["model.norm.weight"] = norm()
    if not config["tie_word_embeddings"]:
        sd["lm_head.weight"] = mat(vocab, hidden)
    return sd


def _save_shards(sd: dict[str, torch.Tensor], path: Path, num_shards: int) -> None:
    from safetensors.torch import save_file

    names = sorted(sd)
    if num_shards == 1:
        save_file({n: sd[n].contiguous() for n in names}, str(path / "model.safetensors"),
                  metadata={"format": "pt"})
        return
    weight_map = {}
    for s in range(num_shards):
        part = names[s::num_shards]
        fname = f"model-{s + 1:05d}-of-{num_shards:05d}.safetensors"
        save_file({n: sd[n].contiguous() for n in part}, str(path / fname),
                  metadata={"format": "pt"})
        weight_map.update({n: fname for n in part})
    total = sum(t.numel() * t.element_size() for t in sd.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (path / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


def build_decilm(
    path: str | Path,
    block_configs: list[dict] | None = None,
    *,
    tie_word_embeddings: bool = False,
    num_shards: int = 1,
    seed: int = 0,
    template: str | None = None,
    **overrides,
) -> Path:
    """A DeciLM checkpoint laid out like Llama-3.3-Nemotron-Super-49B's (config.json as the hub
    ships it: model_type `nemotron-nas`, no num_key_value_heads, an `auto_map` to remote code
    that is not shipped)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    blocks = block_configs if block_configs is not None else VARIANT_BLOCKS
    vocab = save_tokenizer(path, template, eos_token="<|eot_id|>", bos_token="<|begin_of_text|>")
    config = {
        "architectures": ["DeciLMForCausalLM"],
        "model_type": "nemotron-nas",
        "auto_map": {"AutoConfig": "configuration_decilm.DeciLMConfig",
                     "AutoModelForCausalLM": "modeling_decilm.DeciLMForCausalLM"},
        "vocab_size": vocab,
        "hidden_size": HIDDEN,
        "num_attention_heads": HEADS,
        "num_hidden_layers": len(blocks),
        "block_configs": blocks,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": tie_word_embeddings,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": SPECIAL_TOKENS.index("<|begin_of_text|>"),
        "eos_token_id": SPECIAL_TOKENS.index("<|eot_id|>"),
        "torch_dtype": "float32",
    }
    config.update(overrides)
    (path / "config.json").write_text(json.dumps(config, indent=2))
    _save_shards(random_state_dict(config, seed), path, num_shards)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    path = Path(path)
    config = json.loads((path / "config.json").read_text())
    sd = {}
    for f in sorted(path.glob("*.safetensors")):
        sd.update(load_file(str(f)))
    return config, sd


# --- the reference forward -----------------------------------------------------------------

_ACTS = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


def _rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def _rope(x, positions, theta):
    """Rotary embedding, rotate-half (neox) layout. x: [heads, seq, dim]."""
    dim = x.shape[-1]
    inv_freq = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=x.dtype) / dim)
    angles = positions[:, None].to(x.dtype) * inv_freq[None, :]
    cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
    x1, x2 = x[..., : dim // 2], x[..., dim // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def _attention(x, sd, p, attn, theta):
    seq = x.shape[0]
    group = attn["n_heads_in_group"]
    q = (x @ sd[p + "q_proj.weight"].T).view(seq, HEADS, HEAD_DIM).transpose(0, 1)
    k = (x @ sd[p + "k_proj.weight"].T).view(seq, HEADS // group, HEAD_DIM).transpose(0, 1)
    v = (x @ sd[p + "v_proj.weight"].T).view(seq, HEADS // group, HEAD_DIM).transpose(0, 1)
    pos = torch.arange(seq)
    q, k = _rope(q, pos, theta), _rope(k, pos, theta)
    k, v = k.repeat_interleave(group, 0), v.repeat_interleave(group, 0)
    scores = q @ k.transpose(1, 2) / HEAD_DIM**0.5
    distance = pos[:, None] - pos[None, :]  # query - key
    visible = distance >= 0
    if attn.get("window_length"):
        visible &= distance < attn["window_length"]
    scores = scores.masked_fill(~visible, float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(0, 1).reshape(seq, HEADS * HEAD_DIM)
    return out @ sd[p + "o_proj.weight"].T


def _ffn(x, sd, p, ffn, default_act):
    act = _ACTS[ffn.get("hidden_act") or default_act]
    gate, up = x @ sd[p + "gate_proj.weight"].T, x @ sd[p + "up_proj.weight"].T
    return (act(gate) * up) @ sd[p + "down_proj.weight"].T


@torch.no_grad()
def reference_logits(config: dict, sd: dict[str, torch.Tensor],
                     token_ids: list[int]) -> torch.Tensor:
    """Logits for every position of `token_ids`, computed in float64."""
    sd = {k: v.double() for k, v in sd.items()}
    eps, theta = config["rms_norm_eps"], config.get("rope_theta", 10000.0)
    h = sd["model.embed_tokens.weight"][torch.tensor(token_ids)]
    for i, block in enumerate(config["block_configs"]):
        p = f"model.layers.{i}."
        attn, ffn = block["attention"], block["ffn"]
        if not attn["no_op"]:
            x = _rms_norm(h, sd[p + "input_layernorm.weight"], eps)
            if attn["replace_with_linear"]:
                h = h + x @ sd[p + "self_attn.linear_attn.weight"].T
            else:
                h = h + _attention(x, sd, p + "self_attn.", attn, theta)
        if not ffn["no_op"]:
            x = _rms_norm(h, sd[p + "post_attention_layernorm.weight"], eps)
            if ffn["replace_with_linear"]:
                h = h + x @ sd[p + "mlp.linear_mlp.weight"].T
            else:
                h = h + _ffn(x, sd, p + "mlp.", ffn, config["hidden_act"])
    h = _rms_norm(h, sd["model.norm.weight"], eps)
    tied = config["tie_word_embeddings"]
    head = sd["model.embed_tokens.weight"] if tied else sd["lm_head.weight"]
    return h @ head.T


def reference_greedy(path: str | Path, prompt_ids: list[int], max_tokens: int) -> list[int]:
    """Greedy continuation of `prompt_ids` by the reference forward (no KV cache: recompute)."""
    config, sd = load_checkpoint(path)
    ids = list(prompt_ids)
    for _ in range(max_tokens):
        ids.append(int(reference_logits(config, sd, ids)[-1].argmax()))
    return ids[len(prompt_ids):]
