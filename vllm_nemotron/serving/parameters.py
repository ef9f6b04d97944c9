"""Sizes of a Nemotron-H (hybrid Mamba2/attention/MoE) config: parameters, and the cache
one sequence holds.

An MoE model must hold every expert in GPU memory, so memory is planned from the total
count, not the active one. The count follows vLLM's `nemotron_h.py` / `nemotron_h_mtp.py`
module by module: embeddings and an untied LM head; Mamba2 mixers (in/out projections,
convolution, A, D, dt bias, gated norm); attention (q, k, v, o); MLPs and MoE layers (routed
experts with up/down projections only: relu² is not gated; the shared expert; the latent
projections when `moe_latent_size` is set; the router and its correction bias); the MTP head
(eh projection, norms and its own layers; it shares the embeddings and LM head).

Quantized checkpoints: NVIDIA's ModelOpt FP8 and NVFP4 checkpoints quantize the MoE and MLP
layers and keep the embeddings, LM head, Mamba mixers, attention, norms and routers in bf16
(checked against the published sizes: Nemotron-3-Ultra NVFP4 352 GB, BF16 1121 GB).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vllm_nemotron.serving.checkpoint import BF16, FP8, NVFP4, layer_pattern, mtp_pattern

# Bytes per quantized weight: NVFP4 packs two 4-bit values per byte plus one fp8 scale per
# block of 16; FP8 one byte (per-tensor scales are negligible).
BYTES_PER_WEIGHT = {BF16: 2.0, FP8: 1.0, NVFP4: 0.5 + 1 / 16}


@dataclass(frozen=True)
class ParameterCount:
    """Parameters of a config: `kept` stay 16-bit in quantized checkpoints, `quantizable`
    (MoE and MLP layers) take the checkpoint's precision."""

    kept: int
    quantizable: int
    active: int  # per token: the routed experts a token uses, not all of them
    mtp: int  # of the totals, the MTP head's

    @property
    def total(self) -> int:
        return self.kept + self.quantizable

    def weight_bytes(self, precision: str) -> int:
        per_weight = BYTES_PER_WEIGHT.get(precision, BYTES_PER_WEIGHT[BF16])
        return int(2 * self.kept + per_weight * self.quantizable)


def _mamba(c: dict[str, Any]) -> int:
    hidden, heads = c["hidden_size"], c["mamba_num_heads"]
    inner = heads * c["mamba_head_dim"]
    groups_state = 2 * c["n_groups"] * c["ssm_state_size"]
    conv_channels = inner + groups_state
    in_proj = hidden * (2 * inner + groups_state + heads)
    conv = conv_channels * c["conv_kernel"] + (conv_channels if c.get("use_conv_bias") else 0)
    return in_proj + conv + 3 * heads + inner + inner * hidden  # A, D, dt bias; norm; out


def _attention(c: dict[str, Any]) -> int:
    hidden = c["hidden_size"]
    head_dim = c.get("head_dim") or hidden // c["num_attention_heads"]
    return hidden * head_dim * 2 * (c["num_attention_heads"] + c["num_key_value_heads"])


def _moe(c: dict[str, Any]) -> tuple[int, int, int]:
    """(kept, all experts, the experts one token uses) of one MoE layer."""
    hidden, experts = c["hidden_size"], c["n_routed_experts"]
    latent = c.get("moe_latent_size")
    expert = 2 * (latent or hidden) * c["moe_intermediate_size"]
    shared = 2 * hidden * c.get("moe_shared_expert_intermediate_size", 0) * \
        (c.get("n_shared_experts") or 0)
    latent_proj = 2 * hidden * latent if latent else 0
    quantized = shared + latent_proj
    return experts * hidden + experts, quantized + experts * expert, \
        quantized + c["num_experts_per_tok"] * expert


def _layers(c: dict[str, Any], pattern: str) -> tuple[int, int, int]:
    """(kept, quantizable, active) of the layers in `pattern`, each with its norm."""
    kept = quantizable = active = 0
    for letter in pattern:
        norm = c["hidden_size"]
        if letter == "M":
            kept, active = kept + norm + _mamba(c), active + norm + _mamba(c)
        elif letter == "*":
            kept, active = kept + norm + _attention(c), active + norm + _attention(c)
        elif letter == "-":
            mlp = 2 * c["hidden_size"] * c["intermediate_size"]
            kept, quantizable, active = kept + norm, quantizable + mlp, active + norm + mlp
        elif letter == "E":
            router, experts, used = _moe(c)
            kept, quantizable = kept + norm + router, quantizable + experts
            active += norm + router + used
        else:
            raise ValueError(f"config.json hybrid_override_pattern: unknown layer {letter!r}")
    return kept, quantizable, active


def count_parameters(config: dict[str, Any]) -> ParameterCount | None:
    """The parameters of a Nemotron-H config, or None for another architecture.

    A field the count needs and the config lacks raises KeyError naming it.
    """
    pattern = layer_pattern(config)
    if pattern is None:
        return None
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    heads = 1 if config.get("tie_word_embeddings") else 2
    embeddings = heads * vocab * hidden + hidden  # + the final norm
    kept, quantizable, active = _layers(config, pattern)
    mtp_kept = mtp_quantizable = 0
    for _ in range(config.get("num_nextn_predict_layers") or 0):
        k, q, _active = _layers(config, mtp_pattern(config))
        mtp_kept += k + 2 * hidden * hidden + 3 * hidden  # eh_proj; enorm, hnorm, final norm
        mtp_quantizable += q
    return ParameterCount(kept=embeddings + kept + mtp_kept,
                          quantizable=quantizable + mtp_quantizable,
                          active=embeddings + active, mtp=mtp_kept + mtp_quantizable)


# What a module is, as a mixed-precision checkpoint's summary names it.
EMBEDDINGS, LM_HEAD, NORMS = "embeddings", "LM head", "norms"
MAMBA_PROJ, MAMBA_REST = "Mamba in/out projections", "Mamba conv1d and SSM parameters"
ATTENTION, MLP = "attention", "MLP"
ROUTER, ROUTED, SHARED, LATENT = "routers", "routed experts", "shared experts", \
    "latent projections"
MTP_HEAD = "MTP head"


@dataclass(frozen=True)
class Module:
    """One weight-bearing module under its checkpoint name (`backbone.layers.3.mixer.in_proj`,
    `mtp.layers.1.mixer.experts.7.up_proj`), its parameter count and what it is."""

    name: str
    params: int
    role: str


def _mamba_modules(c: dict[str, Any], prefix: str) -> Iterator[tuple[str, int, str]]:
    hidden, heads = c["hidden_size"], c["mamba_num_heads"]
    inner = heads * c["mamba_head_dim"]
    groups_state = 2 * c["n_groups"] * c["ssm_state_size"]
    channels = inner + groups_state
    yield f"{prefix}in_proj", hidden * (2 * inner + groups_state + heads), MAMBA_PROJ
    yield f"{prefix}conv1d", channels * c["conv_kernel"] + \
        (channels if c.get("use_conv_bias") else 0), MAMBA_REST
    for name in ("A_log", "D", "dt_bias"):
        yield f"{prefix}{name}", heads, MAMBA_REST
    yield f"{prefix}norm", inner, MAMBA_REST
    yield f"{prefix}out_proj", inner * hidden, MAMBA_PROJ


def _attention_modules(c: dict[str, Any], prefix: str) -> Iterator[tuple[str, int, str]]:
    hidden = c["hidden_size"]
    head_dim = c.get("head_dim") or hidden // c["num_attention_heads"]
    heads, kv = c["num_attention_heads"], c["num_key_value_heads"]
    for name, count in (("q_proj", heads), ("k_proj", kv), ("v_proj", kv), ("o_proj", heads)):
        yield f"{prefix}{name}", hidden * head_dim * count, ATTENTION


def _moe_modules(c: dict[str, Any], prefix: str) -> Iterator[tuple[str, int, str]]:
    hidden, experts = c["hidden_size"], c["n_routed_experts"]
    latent = c.get("moe_latent_size")
    yield f"{prefix}gate", experts * hidden + experts, ROUTER  # weight, correction bias
    per_projection = (latent or hidden) * c["moe_intermediate_size"]
    for expert in range(experts):
        yield f"{prefix}experts.{expert}.up_proj", per_projection, ROUTED
        yield f"{prefix}experts.{expert}.down_proj", per_projection, ROUTED
    shared = hidden * c.get("moe_shared_expert_intermediate_size", 0) * \
        (c.get("n_shared_experts") or 0)
    if shared:
        yield f"{prefix}shared_experts.up_proj", shared, SHARED
        yield f"{prefix}shared_experts.down_proj", shared, SHARED
    if latent:
        yield f"{prefix}fc1_latent_proj", hidden * latent, LATENT
        yield f"{prefix}fc2_latent_proj", latent * hidden, LATENT


def _layer_modules(c: dict[str, Any], letter: str, prefix: str
                   ) -> Iterator[tuple[str, int, str]]:
    yield f"{prefix}norm", c["hidden_size"], NORMS
    mixer = f"{prefix}mixer."
    if letter == "M":
        yield from _mamba_modules(c, mixer)
    elif letter == "*":
        yield from _attention_modules(c, mixer)
    elif letter == "-":
        yield f"{mixer}up_proj", c["hidden_size"] * c["intermediate_size"], MLP
        yield f"{mixer}down_proj", c["intermediate_size"] * c["hidden_size"], MLP
    elif letter == "E":
        yield from _moe_modules(c, mixer)
    else:
        raise ValueError(f"config.json hybrid_override_pattern: unknown layer {letter!r}")


def modules(config: dict[str, Any]) -> Iterator[Module]:
    """Every weight-bearing module of a Nemotron-H config, named as the checkpoint names it
    (what ModelOpt's per-layer `quantized_layers` are keyed by), in the same count as
    `count_parameters`. Nothing for another architecture."""
    pattern = layer_pattern(config)
    if pattern is None:
        return
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    yield Module("backbone.embeddings", vocab * hidden, EMBEDDINGS)
    for i, letter in enumerate(pattern):
        for name, params, role in _layer_modules(config, letter, f"backbone.layers.{i}."):
            yield Module(name, params, role)
    yield Module("backbone.norm_f", hidden, NORMS)
    if not config.get("tie_word_embeddings"):
        yield Module("lm_head", vocab * hidden, LM_HEAD)
    steps, mtp = config.get("num_nextn_predict_layers") or 0, mtp_pattern(config)
    for step in range(steps):
        first = f"mtp.layers.{step * len(mtp)}."
        yield Module(f"{first}eh_proj", 2 * hidden * hidden, MTP_HEAD)
        for norm in ("enorm", "hnorm"):
            yield Module(f"{first}{norm}", hidden, MTP_HEAD)
        yield Module(f"mtp.layers.{(step + 1) * len(mtp) - 1}.final_layernorm", hidden, MTP_HEAD)
        for j, letter in enumerate(mtp):
            prefix = f"mtp.layers.{step * len(mtp) + j}."
            for name, params, _role in _layer_modules(config, letter, prefix):
                yield Module(name, params, MTP_HEAD)


@dataclass(frozen=True)
class SequenceCache:
    """Cache one sequence holds: KV of the attention layers only (Mamba layers keep no KV)
    and the Mamba state (convolution state in the model dtype, SSM state in float32)."""

    attention_layers: int
    kv_bytes_per_token: int
    mamba_layers: int
    mamba_state_bytes: int

    def bytes(self, tokens: int) -> int:
        return tokens * self.kv_bytes_per_token + self.mamba_state_bytes


def sequence_cache(config: dict[str, Any], kv_bytes: int,
                   model_bytes: int = 2, ssm_bytes: int = 4) -> SequenceCache | None:
    """The per-sequence cache of a Nemotron-H config, or None for another architecture."""
    pattern = layer_pattern(config)
    if pattern is None:
        return None
    attention, mamba = pattern.count("*"), pattern.count("M")
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    kv = attention * 2 * config["num_key_value_heads"] * head_dim * kv_bytes
    state = 0
    if mamba:
        heads, state_size = config["mamba_num_heads"], config["ssm_state_size"]
        channels = heads * config["mamba_head_dim"] + 2 * config["n_groups"] * state_size
        conv = channels * (config["conv_kernel"] - 1) * model_bytes
        ssm = heads * config["mamba_head_dim"] * state_size * ssm_bytes
        state = mamba * (conv + ssm)
    return SequenceCache(attention, kv, mamba, state)
