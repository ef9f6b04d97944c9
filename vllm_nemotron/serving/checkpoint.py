"""What can be learned about a model before it is downloaded or started.

A recipe is planned from `config.json`, the quantization (`hf_quant_config.json` or the
config's `quantization_config`), the weight size and the chat template the checkpoint ships.
They are read from a local checkpoint directory, or from the local Hugging Face cache for a hub
name (never from the network: planning must work on a laptop or CI runner, and before a long
download). Anything not found stays None, and the recipe says so; the precision then comes
from the name (`-FP8`, `-NVFP4`), as NVIDIA names its checkpoints.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vllm_nemotron.serving.mixed_precision import LayerScheme, MixedWeights

TEMPLATE_FILE = "chat_template.jinja"
TOKENIZER_CONFIG = "tokenizer_config.json"
WEIGHTS_INDEX = "model.safetensors.index.json"
QUANT_CONFIG = "hf_quant_config.json"  # written by NVIDIA's ModelOpt next to config.json

BF16, FP8, NVFP4 = "BF16", "FP8", "NVFP4"
# Layer names of `layers_block_type` (transformers 5 and older configs) as pattern letters.
BLOCK_LETTERS = {"mamba": "M", "linear_attention": "M", "attention": "*", "full_attention": "*",
                 "moe": "E", "mlp": "-"}


@dataclass
class Checkpoint:
    """A model name and what a local copy of it told us."""

    model: str
    location: str | None = None  # "directory" or "hub cache"; None: nothing local
    config: dict[str, Any] | None = None
    config_source: str | None = None
    weight_bytes: int | None = None
    chat_template: str | None = None
    chat_template_source: str | None = None
    quant_config: dict[str, Any] | None = None  # hf_quant_config.json
    quant_config_source: str | None = None

    @property
    def architecture(self) -> str | None:
        archs = (self.config or {}).get("architectures") or []
        return archs[0] if archs else None

    @property
    def language_config(self) -> dict[str, Any]:
        """The language model's config: a VL/Omni checkpoint nests it as `text_config`."""
        config = self.config or {}
        nested = config.get("text_config") or config.get("llm_config")
        return nested if isinstance(nested, dict) else config

    @cached_property
    def layer_scheme(self) -> LayerScheme | None:
        """The per-layer algorithms of a ModelOpt MIXED_PRECISION checkpoint, else None."""
        from vllm_nemotron.serving.mixed_precision import read_scheme

        return read_scheme(self.quant_config, self.quant_config_source, self.config,
                           self.config_source)

    @cached_property
    def mixed_weights(self) -> MixedWeights | None:
        """A mixed-precision checkpoint's weights summed module by module from its config
        (None when it is not mixed, or the config is not one whose modules are known)."""
        from vllm_nemotron.serving.mixed_precision import weigh

        if self.layer_scheme is None:
            return None
        try:
            return weigh(self.language_config, self.layer_scheme)
        except (KeyError, ValueError):  # a config the module list cannot read
            return None

    def precision(self) -> tuple[str, str]:
        """(BF16, FP8, NVFP4 or the quantization's own name, where that was read).

        A mixed-precision checkpoint is the precision of its lowest-precision layers (NVIDIA's
        NVFP4 releases are mixed), and the reason says which layers are which."""
        if (scheme := self.layer_scheme) is not None:
            from vllm_nemotron.serving.mixed_precision import precision_class

            if (weights := self.mixed_weights) is not None:
                return weights.precision(), f"{scheme.source}: {weights.describe()}"
            classes = {precision_class(a) for a in scheme.layers.values()}
            lowest = next((p for p in (NVFP4, FP8) if p in classes), BF16)
            algos = ", ".join(sorted(set(scheme.layers.values()))) or BF16
            return lowest, f"{scheme.source}: mixed: {algos} layers"
        if self.quant_config is not None:
            algo = (self.quant_config.get("quantization") or {}).get("quant_algo")
            if algo:
                return _precision_name(str(algo)), str(self.quant_config_source)
        quant = (self.config or {}).get("quantization_config")
        if isinstance(quant, dict):
            algo = quant.get("quant_algo") or quant.get("quant_method") or "quantized"
            return _precision_name(str(algo)), f"{self.config_source} quantization_config"
        named = precision_from_name(self.name)
        if named is not None:
            return named, f"the name {self.name!r}"
        if self.config is not None:
            return BF16, f"{self.config_source} (no quantization_config)"
        return BF16, "assumed: no local config and the name names no precision"

    def kv_cache_quantized(self) -> bool:
        """Whether ModelOpt calibrated fp8 KV-cache scales for this checkpoint."""
        if self.layer_scheme is not None:
            return self.layer_scheme.kv_cache == FP8
        quant = (self.quant_config or {}).get("quantization") or {}
        config_quant = (self.config or {}).get("quantization_config") or {}
        algo = quant.get("kv_cache_quant_algo") or config_quant.get("kv_cache_quant_algo")
        return str(algo).upper() == FP8

    @property
    def name(self) -> str:
        """The hub id, or the directory's name (what family names are matched against)."""
        path = Path(self.model).expanduser()
        return path.resolve().name if self.location == "directory" else self.model


def _precision_name(algo: str) -> str:
    upper = algo.upper()
    if "NVFP4" in upper:
        return NVFP4
    if upper.startswith("FP8"):
        return FP8
    return algo


def precision_from_name(name: str) -> str | None:
    """NVIDIA's suffixes: -BF16, -FP8, -NVFP4 (also -FP4)."""
    if re.search(r"nvfp4|(?<![a-z])fp4", name, re.IGNORECASE):
        return NVFP4
    if re.search(r"fp8", name, re.IGNORECASE):
        return FP8
    if re.search(r"bf16", name, re.IGNORECASE):
        return BF16
    return None


def layer_pattern(config: dict[str, Any]) -> str | None:
    """A Nemotron-H stack as pattern letters (M Mamba, * attention, E MoE, - MLP), from
    `hybrid_override_pattern` or `layers_block_type`; None for other architectures."""
    if isinstance(pattern := config.get("hybrid_override_pattern"), str):
        return pattern
    blocks = config.get("layers_block_type")
    if not isinstance(blocks, list):
        return None
    unknown = sorted({b for b in blocks if b not in BLOCK_LETTERS})
    if unknown:
        raise ValueError(f"config.json layers_block_type: unknown layer types {unknown} "
                         f"(known: {', '.join(BLOCK_LETTERS)})")
    return "".join(BLOCK_LETTERS[b] for b in blocks)


def mtp_pattern(config: dict[str, Any]) -> str:
    """The MTP head's layers as pattern letters (`*E` when the config does not say)."""
    if isinstance(pattern := config.get("mtp_hybrid_override_pattern"), str):
        return pattern
    blocks = config.get("mtp_layers_block_type")
    if isinstance(blocks, list):
        return "".join(BLOCK_LETTERS.get(b, "") for b in blocks)
    return "*E"


def config_traits(config: dict[str, Any]) -> frozenset[str]:
    """The traits families are told apart by: "moe" (MoE layers), "latent_moe" (routed
    experts behind latent projections), "mtp" (an MTP head)."""
    traits = set()
    pattern = layer_pattern(config)
    if pattern is not None:
        if "E" in pattern:
            traits.add("moe")
    elif (config.get("n_routed_experts") or 0) > 0:
        traits.add("moe")
    if config.get("moe_latent_size"):
        traits.add("latent_moe")
    if (config.get("num_nextn_predict_layers") or 0) > 0:
        traits.add("mtp")
    return frozenset(traits)


def hub_cache_dir() -> str:
    """The hub cache, read from the environment now (huggingface_hub reads it once, at import)."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return cache
    if home := os.environ.get("HF_HOME"):
        return os.path.join(home, "hub")
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _template_from_tokenizer_config(path: Path) -> str | None:
    """The default chat template of a tokenizer_config.json (a string, or a list of named ones)."""
    template = json.loads(path.read_text()).get("chat_template")
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


def _read_template(find: Callable[[str], Path | None]) -> tuple[str | None, str | None]:
    """(template, where it was found); `find(file_name)` gives a local path or None.

    chat_template.jinja comes first: transformers prefers it to tokenizer_config.json.
    """
    if (path := find(TEMPLATE_FILE)) is not None:
        return path.read_text(), str(path)
    if (path := find(TOKENIZER_CONFIG)) is not None:
        template = _template_from_tokenizer_config(path)
        if template is not None:
            return template, str(path)
    return None, None


def _weights_from_index(path: Path) -> int | None:
    total = json.loads(path.read_text()).get("metadata", {}).get("total_size")
    return int(total) if isinstance(total, (int, float)) else None


def _from_directory(model: str, path: Path) -> Checkpoint:
    def find(file_name: str) -> Path | None:
        return path / file_name if (path / file_name).is_file() else None

    ckpt = Checkpoint(model, "directory")
    if (config := find("config.json")) is not None:
        ckpt.config, ckpt.config_source = json.loads(config.read_text()), str(config)
    ckpt.weight_bytes = sum(f.stat().st_size for f in path.glob("*.safetensors")) or None
    ckpt.chat_template, ckpt.chat_template_source = _read_template(find)
    _read_quant_config(ckpt, find)
    return ckpt


def _read_quant_config(ckpt: Checkpoint, find: Callable[[str], Path | None]) -> None:
    if (path := find(QUANT_CONFIG)) is not None:
        ckpt.quant_config, ckpt.quant_config_source = json.loads(path.read_text()), str(path)


def _from_hub_cache(model: str) -> Checkpoint:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return Checkpoint(model)
    cache = hub_cache_dir()

    def find(file_name: str) -> Path | None:
        try:
            found = try_to_load_from_cache(model, file_name, cache_dir=cache)
        except ValueError:  # not a valid repo id: a name the hub cannot have
            return None
        return Path(found) if isinstance(found, str) else None

    config = find("config.json")
    if config is None:
        return Checkpoint(model)
    ckpt = Checkpoint(model, "hub cache", json.loads(config.read_text()), str(config))
    if (index := find(WEIGHTS_INDEX)) is not None:
        ckpt.weight_bytes = _weights_from_index(index)
    elif (single := find("model.safetensors")) is not None:
        ckpt.weight_bytes = single.stat().st_size
    ckpt.chat_template, ckpt.chat_template_source = _read_template(find)
    _read_quant_config(ckpt, find)
    return ckpt


def inspect_checkpoint(model: str) -> Checkpoint:
    """Read config.json, weight size and chat template from a directory or the local hub cache."""
    path = Path(model).expanduser()
    return _from_directory(model, path) if path.is_dir() else _from_hub_cache(model)
