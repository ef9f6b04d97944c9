"""The `nemotron-nas` (DeciLM) config: Llama fields plus per-layer `block_configs`.

Registered with transformers' AutoConfig so DeciLM checkpoints load without running the
checkpoint's remote code. `block_configs` is parsed once into frozen dataclasses and
validated here, so a malformed checkpoint fails at load with the layer and field named.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import LlamaConfig


class BlockConfigError(ValueError):
    """A `block_configs` entry that cannot describe a layer."""


@dataclass(frozen=True)
class AttentionBlock:
    no_op: bool = False
    replace_with_linear: bool = False
    n_heads_in_group: int | None = None
    window_length: int | None = None
    num_sink_tokens: int | None = None
    use_prefill_window_in_sink_attention: bool = False
    unshifted_sink: bool = False
    sparsify: Any = None

    @property
    def is_full(self) -> bool:
        return not (self.no_op or self.replace_with_linear)


@dataclass(frozen=True)
class FFNBlock:
    no_op: bool = False
    replace_with_linear: bool = False
    ffn_mult: float | None = None
    intermediate_size: int | None = None
    hidden_act: str | None = None
    sparsify: Any = None

    @property
    def is_full(self) -> bool:
        return not (self.no_op or self.replace_with_linear)


@dataclass(frozen=True)
class BlockConfig:
    attention: AttentionBlock
    ffn: FFNBlock


def ffn_mult_to_intermediate_size(ffn_mult: float, hidden_size: int) -> int:
    """DeciLM's rounding rule: 2/3 * ffn_mult * hidden, rounded up to a multiple of 256."""
    size = int(2 * ffn_mult * hidden_size / 3)
    return -(-size // 256) * 256


def _as_dict(value: Any, where: str) -> dict:
    """Block entries arrive as dicts (config.json) or objects (remote-code configs)."""
    if isinstance(value, dict):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    raise BlockConfigError(f"{where}: expected a mapping, got {type(value).__name__}")


def _build(cls: type[Any], raw: Any, where: str) -> Any:
    fields = _as_dict(raw, where)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = {k: v for k, v in fields.items() if k not in known}
    # Unknown fields that are unset change nothing; a set one would mean a different model.
    for key, value in unknown.items():
        if value not in (None, False, 0, [], {}):
            raise BlockConfigError(f"{where}.{key}={value!r} is not supported")
    return cls(**{k: v for k, v in fields.items() if k in known})


def _check_positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BlockConfigError(f"{where} must be a positive integer, got {value!r}")
    return value


def parse_block_configs(
    raw: Any, *, num_hidden_layers: int, num_attention_heads: int
) -> list[BlockConfig]:
    """Validate `block_configs` and return one `BlockConfig` per layer."""
    if raw is None:
        raise BlockConfigError("block_configs is missing: nemotron-nas needs one entry per layer")
    if not isinstance(raw, (list, tuple)) or len(raw) != num_hidden_layers:
        length = len(raw) if isinstance(raw, (list, tuple)) else type(raw).__name__
        raise BlockConfigError(
            f"block_configs has {length} entries but num_hidden_layers is {num_hidden_layers}"
        )
    blocks = []
    for i, entry in enumerate(raw):
        if isinstance(entry, BlockConfig):
            blocks.append(entry)
            continue
        where = f"block_configs[{i}]"
        fields = _as_dict(entry, where)
        for part in ("attention", "ffn"):
            if fields.get(part) is None:
                raise BlockConfigError(f"{where}.{part} is missing")
        unknown = {k: v for k, v in fields.items() if k not in ("attention", "ffn")}
        for key, value in unknown.items():
            if value not in (None, False, 0, [], {}):
                raise BlockConfigError(f"{where}.{key}={value!r} is not supported")
        attn = _build(AttentionBlock, fields["attention"], f"{where}.attention")
        ffn = _build(FFNBlock, fields["ffn"], f"{where}.ffn")
        _validate_attention(attn, f"{where}.attention", num_attention_heads)
        _validate_ffn(ffn, f"{where}.ffn")
        blocks.append(BlockConfig(attention=attn, ffn=ffn))
    return blocks


def _validate_attention(attn: AttentionBlock, where: str, num_heads: int) -> None:
    if attn.no_op and attn.replace_with_linear:
        raise BlockConfigError(f"{where}: no_op and replace_with_linear are both set")
    if attn.is_full:
        group = _check_positive_int(attn.n_heads_in_group, f"{where}.n_heads_in_group")
        if num_heads % group:
            raise BlockConfigError(
                f"{where}.n_heads_in_group={attn.n_heads_in_group} does not divide "
                f"num_attention_heads={num_heads}"
            )
    if attn.window_length is not None:
        _check_positive_int(attn.window_length, f"{where}.window_length")


def _validate_ffn(ffn: FFNBlock, where: str) -> None:
    if ffn.no_op and ffn.replace_with_linear:
        raise BlockConfigError(f"{where}: no_op and replace_with_linear are both set")
    if not ffn.is_full:
        return
    if ffn.intermediate_size is not None:
        _check_positive_int(ffn.intermediate_size, f"{where}.intermediate_size")
    elif ffn.ffn_mult is None:
        raise BlockConfigError(f"{where}: needs ffn_mult or intermediate_size")
    elif isinstance(ffn.ffn_mult, bool) or not isinstance(ffn.ffn_mult, (int, float)) \
            or ffn.ffn_mult <= 0:
        raise BlockConfigError(f"{where}.ffn_mult must be a positive number, got {ffn.ffn_mult!r}")


def ffn_intermediate_size(ffn: FFNBlock, hidden_size: int) -> int:
    """The FFN width of a full block: `intermediate_size` if given, else from `ffn_mult`."""
    if ffn.intermediate_size is not None:
        return ffn.intermediate_size
    assert ffn.ffn_mult is not None, "validated when the config was parsed"
    return ffn_mult_to_intermediate_size(ffn.ffn_mult, hidden_size)


@strict
class NemotronNasConfig(LlamaConfig):
    """Configuration of NVIDIA's NAS-derived Llama models (`DeciLMForCausalLM`)."""

    model_type = "nemotron-nas"
    # Without block_configs there is no model to describe, so no default instance exists.
    has_no_defaults_at_init = True

    block_configs: list | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        self.block_configs = parse_block_configs(
            self.block_configs,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["block_configs"] = [dataclasses.asdict(b) for b in self.block_configs or []]
        return out
