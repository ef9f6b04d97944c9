"""ModelOpt mixed-precision checkpoints, read layer by layer.

NVIDIA's NVFP4 releases of Nemotron 3 are not NVFP4 throughout: ModelOpt writes them as
`quant_algo: "MIXED_PRECISION"` with the algorithm of each quantized layer
(`quantized_layers`), e.g. Super and Ultra: routed experts NVFP4, shared experts and the Mamba
in/out projections FP8, the rest BF16; 3.5 Lightning: weight-only NVFP4 (`W4A16_NVFP4`).
This module reads that per-layer map the way vLLM 0.32's `ModelOptMixedPrecisionConfig`
(model_executor/layers/quantization/modelopt.py) does, from either file:

- `hf_quant_config.json`: `quantization.{quant_algo, kv_cache_quant_algo, exclude_modules,
  quantized_layers}`;
- `config.json` `quantization_config` (`quant_method: modelopt`): `quant_algo`,
  `quantized_layers`, `ignore` (the excluded modules), `kv_cache_scheme` (fp8 when
  `{"type": "float", "num_bits": 8}`). vLLM prefers it when it has `quantized_layers`, as here.
  Without them its `config_groups` (compressed-tensors style groups of `targets` with their
  `weights` / `input_activations` bits) give the same map.

A module not in the map, or excluded, stays unquantized (BF16), as vLLM leaves it. The weight
size is then the sum over the config's modules (parameters.modules) at each one's algorithm.
docs/recipes.md compares the sums with the published checkpoint sizes.
"""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from vllm_nemotron.serving.parameters import modules

MIXED = "MIXED_PRECISION"
BF16, FP8, NVFP4 = "BF16", "FP8", "NVFP4"
W4A16_NVFP4 = "W4A16_NVFP4"
# Bytes per weight of each per-layer algorithm vLLM 0.32 knows (modelopt.py LINEAR_ALGOS and
# its block-FP8 MoE names): NVFP4 packs two 4-bit values a byte plus an fp8 scale per 16
# (the per-tensor scales are negligible); MXFP8 one e8m0 scale per 32; FP8 one byte.
ALGO_BYTES = {
    BF16: 2.0,
    NVFP4: 0.5 + 1 / 16,
    W4A16_NVFP4: 0.5 + 1 / 16,
    FP8: 1.0,
    "FP8_PER_CHANNEL_PER_TOKEN": 1.0,
    "FP8_PB_WO": 1.0,
    "FP8_BLOCK_SCALES": 1.0,
    "MXFP8": 1.0 + 1 / 32,
}
# Prefixes a checkpoint may put before `backbone.` (VL/Omni wrappers, vLLM's own names).
_WRAPPERS = re.compile(r"^(?:model\.language_model\.|language_model\.model\.|language_model\.)")
_EXPERT_INDEX = re.compile(r"\.experts\.\d+\.")


def precision_class(algo: str) -> str:
    """The precision a recipe treats a layer algorithm as: NVFP4 (W4A4 or weight-only), FP8
    (any FP8 variant, MXFP8), or the algorithm itself."""
    upper = algo.upper()
    if "NVFP4" in upper:
        return NVFP4
    if "FP8" in upper:
        return FP8
    return upper


def _canonical(name: str) -> str:
    """A module name without wrapper prefixes, `backbone.` as the checkpoints name it."""
    name = _WRAPPERS.sub("", name)
    name = name[len("model."):] if name.startswith("model.") else name
    return "backbone." + name if name.startswith("layers.") else name


def _group_algo(group: dict[str, Any]) -> str:
    """The per-layer algorithm a compressed-tensors style config group describes."""
    weights = group.get("weights") or {}
    activations = group.get("input_activations") or {}
    if weights.get("quant_algo"):
        return str(weights["quant_algo"]).upper()
    bits, kind = weights.get("num_bits"), weights.get("type")
    if kind == "float" and bits == 4:
        return NVFP4 if activations.get("num_bits") == 4 else W4A16_NVFP4
    if kind == "float" and bits == 8:
        return FP8
    return f"W{bits}" if bits else "unknown"


@dataclass
class LayerScheme:
    """A mixed-precision checkpoint's algorithm per module, and where that was read."""

    layers: dict[str, str]  # canonical module name (or prefix) -> algorithm
    source: str
    exclude: list[str] = field(default_factory=list)
    kv_cache: str | None = None  # "FP8" when the checkpoint ships fp8 KV-cache scales
    patterns: list[tuple[str, str]] = field(default_factory=list)  # wildcard targets

    def __post_init__(self) -> None:
        # One regex for all exclusions: a wildcard as written, a plain name with its children.
        alternatives = [fnmatch.translate(p) if any(c in p for c in "*?[")
                        else re.escape(p) + r"(?:\..*)?\Z" for p in self.exclude]
        alternatives += [re.escape(_canonical(p)) + r"(?:\..*)?\Z" for p in self.exclude
                         if not any(c in p for c in "*?[")]
        self._excluded = re.compile("|".join(f"(?:{a})" for a in alternatives)) \
            if alternatives else None

    def algo(self, name: str) -> str:
        """The algorithm of one module: excluded or not listed means BF16 (unquantized)."""
        canonical = _canonical(name)
        if self._excluded is not None and (self._excluded.match(name) or
                                           self._excluded.match(canonical)):
            return BF16
        # The module itself, or a parent listed for all its children (`...mixer.experts`), or
        # the experts' projection listed once for every expert (`...experts.up_proj`).
        candidates = [canonical, _EXPERT_INDEX.sub(".experts.", canonical)]
        parts = canonical.split(".")
        candidates += [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
        for candidate in candidates:
            if candidate in self.layers:
                return self.layers[candidate]
        for pattern, algo in self.patterns:
            if fnmatch.fnmatchcase(canonical, pattern):
                return algo
        return BF16


def _mapped(quantized_layers: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, info in quantized_layers.items():
        algo = info.get("quant_algo") if isinstance(info, dict) else info
        out[_canonical(name)] = str(algo or BF16).upper()
    return out


def _kv_from_scheme(scheme: Any) -> str | None:
    if isinstance(scheme, dict) and scheme.get("type") == "float" and scheme.get("num_bits") == 8:
        return FP8
    return None


def read_scheme(quant_config: dict[str, Any] | None, quant_source: str | None,
                config: dict[str, Any] | None, config_source: str | None) -> LayerScheme | None:
    """The per-layer scheme of a MIXED_PRECISION checkpoint (hf_quant_config.json, config.json
    or its nested text_config), or None for any other checkpoint."""
    config = config or {}
    nested = config.get("text_config") or config.get("llm_config") or {}
    in_config = config.get("quantization_config") or \
        (nested.get("quantization_config") if isinstance(nested, dict) else None)
    hf = (quant_config or {}).get("quantization") or {}
    in_config = in_config if isinstance(in_config, dict) else {}
    config_mixed = str(in_config.get("quant_algo", "")).upper() == MIXED
    hf_mixed = str(hf.get("quant_algo", "")).upper() == MIXED
    if not (config_mixed or hf_mixed):
        return None
    kv = hf.get("kv_cache_quant_algo") or in_config.get("kv_cache_quant_algo") or \
        _kv_from_scheme(in_config.get("kv_cache_scheme"))
    kv = str(kv).upper() if kv else None
    where = f"{config_source} quantization_config"
    if config_mixed and in_config.get("quantized_layers"):
        return LayerScheme(_mapped(in_config["quantized_layers"]),
                           f"{where} quantized_layers", list(in_config.get("ignore") or []), kv)
    if hf_mixed and hf.get("quantized_layers"):
        return LayerScheme(_mapped(hf["quantized_layers"]), f"{quant_source} quantized_layers",
                           list(hf.get("exclude_modules") or []), kv)
    groups = in_config.get("config_groups") if config_mixed else None
    if isinstance(groups, dict) and groups:
        layers, patterns = {}, []
        for group in groups.values():
            algo = _group_algo(group)
            for target in group.get("targets") or []:
                if any(c in target for c in "*?["):
                    patterns.append((target, algo))
                else:
                    layers[_canonical(target)] = algo
        return LayerScheme(layers, f"{where} config_groups (vLLM 0.32 itself needs "
                                   f"quantized_layers, in this file or hf_quant_config.json)",
                           list(in_config.get("ignore") or []), kv, patterns)
    source = quant_source if hf_mixed else where
    return LayerScheme({}, f"{source}: MIXED_PRECISION without quantized_layers (vLLM 0.32 "
                           f"refuses to load it); counted as unquantized", [], kv)


@dataclass(frozen=True)
class MixedWeights:
    """A mixed-precision checkpoint's weights summed module by module."""

    bytes: int
    params: dict[tuple[str, str], int]  # (what the module is, algorithm) -> parameters

    def algorithms(self) -> set[str]:
        return {algo for _, algo in self.params}

    def precision(self) -> str:
        """NVFP4 if any layer is NVFP4 (the family's NVFP4 checkpoint), else FP8, else BF16."""
        classes = {precision_class(a) for a in self.algorithms()}
        return next((p for p in (NVFP4, FP8) if p in classes), BF16)

    def describe(self) -> str:
        """E.g. "mixed: NVFP4 routed experts; FP8 shared experts, Mamba in/out projections;
        BF16 rest" (a role partly in one algorithm is named "part of")."""
        by_role: dict[str, int] = defaultdict(int)
        for (role, _), count in self.params.items():
            by_role[role] += count
        parts = []
        for algo in sorted(self.algorithms() - {BF16}, key=lambda a: (ALGO_BYTES.get(a, 2), a)):
            roles = [role if self.params[(role, a)] == by_role[role] else f"part of {role}"
                     for (role, a) in self.params if a == algo]
            parts.append(f"{algo} {', '.join(roles)}")
        if BF16 in self.algorithms():
            parts.append("BF16 rest" if parts else "BF16 throughout")
        return "mixed: " + "; ".join(parts)


def weigh(config: dict[str, Any], scheme: LayerScheme) -> MixedWeights | None:
    """The weights of a Nemotron-H config under a per-layer scheme; None for another
    architecture (no module list to sum)."""
    params: dict[tuple[str, str], int] = defaultdict(int)
    total = 0.0
    for module in modules(config):
        algo = scheme.algo(module.name)
        params[(module.role, algo)] += module.params
        total += ALGO_BYTES.get(algo, ALGO_BYTES[BF16]) * module.params
    return MixedWeights(int(total), dict(params)) if params else None
