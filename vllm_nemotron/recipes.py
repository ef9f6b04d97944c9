"""Serving recipes: the vLLM flags each Nemotron family needs, chosen from a checkpoint.

A recipe is picked from the checkpoint's architecture (`config.json` `architectures`, read
locally for a directory or from the local Hugging Face cache for a hub name) and its name
(hub id or directory name). It gives the parsers, the chat template shipped in this package,
the float32 Mamba SSM cache for hybrids, the context length, and a tensor-parallel size
suggested from the weight size and the GPU memory present. Every choice carries its reason,
so `vllm-nemotron recipe/serve` can say why.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from vllm_nemotron import chat_templates

# Share of one GPU's memory the weights may take; the rest is KV/SSM cache and activations.
WEIGHT_SHARE_OF_GPU = 0.8


@dataclass(frozen=True)
class Family:
    """What one Nemotron family needs from `vllm serve`."""

    name: str
    description: str
    architectures: tuple[str, ...]
    name_pattern: str  # regex, matched case-insensitively against the hub id or directory name
    max_model_len: int
    tool_parser: str | None = None
    reasoning_parser: str | None = None
    chat_template: str | None = None  # file name in vllm_nemotron.chat_templates
    hybrid: bool = False  # Mamba layers: keep the SSM state in float32
    # The architecture alone identifies the family (not so for a generic Llama).
    architecture_is_enough: bool = True
    examples: tuple[str, ...] = ()


FAMILIES: tuple[Family, ...] = (
    Family(
        name="llama-nemotron-nano",
        description="Llama-3.1-Nemotron-Nano (4B-v1.1, 8B-v1): Llama with detailed-thinking "
        "and <TOOLCALL> JSON tool calls",
        architectures=("LlamaForCausalLM",),
        name_pattern=r"llama-3[._]1-nemotron-nano|nemotron-nano-[48]b-v1",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="llama_nemotron_thinking",
        chat_template="llama_nemotron_tools.jinja",
        architecture_is_enough=False,
        examples=("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1",),
    ),
    Family(
        name="llama-nemotron-nas",
        description="Llama-Nemotron Super-49B / Ultra-253B (DeciLM, NAS-derived blocks)",
        architectures=("DeciLMForCausalLM",),
        name_pattern=r"nemotron-(super|ultra)|deci",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="llama_nemotron_thinking",
        chat_template="llama_nemotron_tools.jinja",
        examples=("nvidia/Llama-3_3-Nemotron-Super-49B-v1",
                  "nvidia/Llama-3_1-Nemotron-Ultra-253B-v1"),
    ),
    Family(
        name="nemotron-3-nano",
        description="NVIDIA-Nemotron-3-Nano (hybrid Mamba2/attention): enable_thinking, "
        "262k context",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nemotron-3-nano|nano[-_]v3",
        max_model_len=262144,
        tool_parser="qwen3_coder",
        reasoning_parser="nano_v3",
        chat_template="nemotron_nano_v3.jinja",
        hybrid=True,
        examples=("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16",),
    ),
    Family(
        name="nemotron-nano-v2",
        description="NVIDIA-Nemotron-Nano-9B/12B-v2 (hybrid Mamba2/attention): /think, "
        "/no_think, <TOOLCALL> JSON tool calls",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nano-(9b|12b)-v2|nano[-_]v2",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="nano_v3",
        chat_template="nemotron_nano_v2.jinja",
        hybrid=True,
        examples=("nvidia/NVIDIA-Nemotron-Nano-9B-v2",),
    ),
    Family(
        name="nemotron-mini",
        description="Nemotron-Mini-4B-Instruct (Nemotron-4): <extra_id_1> turns, <toolcall> "
        "tool calls, 4k context",
        architectures=("NemotronForCausalLM",),
        name_pattern=r"nemotron-mini|minitron",
        max_model_len=4096,
        tool_parser="nemotron_mini",
        chat_template="nemotron_mini.jinja",
        examples=("nvidia/Nemotron-Mini-4B-Instruct",),
    ),
)


class UnknownModelError(ValueError):
    """No recipe fits the model; the message lists what is supported."""


@dataclass
class Checkpoint:
    """What we could learn about a model without downloading it."""

    model: str
    config: dict | None = None  # config.json, when a local copy exists
    config_source: str | None = None
    weight_bytes: int | None = None

    @property
    def architecture(self) -> str | None:
        archs = (self.config or {}).get("architectures") or []
        return archs[0] if archs else None


@dataclass
class GPUs:
    count: int = 0
    memory_bytes: int = 0  # of the smallest one

    @classmethod
    def present(cls) -> "GPUs":
        try:
            import torch

            if not torch.cuda.is_available():
                return cls()
            count = torch.cuda.device_count()
            memory = min(torch.cuda.get_device_properties(i).total_memory for i in range(count))
            return cls(count, memory)
        except Exception:  # no CUDA runtime, broken driver: treat as no GPU
            return cls()


@dataclass
class Recipe:
    """The chosen family, its vLLM arguments, and why each was chosen."""

    model: str
    family: Family
    args: list[str]
    reasons: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        return ["vllm", "serve", self.model, *self.args]


def supported_text() -> str:
    lines = ["Supported families (pick one with --family NAME):"]
    for fam in FAMILIES:
        lines.append(f"  {fam.name:20s} {', '.join(fam.architectures)}: {fam.description}")
        lines.extend(f"  {'':20s} e.g. {ex}" for ex in fam.examples)
    return "\n".join(lines)


def family_by_name(name: str) -> Family:
    for fam in FAMILIES:
        if fam.name == name:
            return fam
    raise UnknownModelError(f"Unknown family {name!r}.\n{supported_text()}")


def inspect_checkpoint(model: str) -> Checkpoint:
    """Read config.json and weight sizes from a local directory or the local hub cache."""
    path = Path(model).expanduser()
    if path.is_dir():
        cfg_file = path / "config.json"
        config = json.loads(cfg_file.read_text()) if cfg_file.is_file() else None
        weights = sum(f.stat().st_size for f in path.glob("*.safetensors")) or None
        return Checkpoint(model, config, str(cfg_file) if config else None, weights)
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
        if isinstance(cached, str):
            return Checkpoint(model, json.loads(Path(cached).read_text()), cached)
    except Exception:  # not a valid repo id, no hub library: use the name alone
        pass
    return Checkpoint(model)


def _name_of(model: str) -> str:
    path = Path(model).expanduser()
    return path.resolve().name if path.is_dir() else model


def choose_family(ckpt: Checkpoint) -> tuple[Family, str]:
    """The family for a checkpoint, and the reason."""
    name, arch = _name_of(ckpt.model), ckpt.architecture
    by_name = [f for f in FAMILIES if re.search(f.name_pattern, name, re.IGNORECASE)]
    if arch is not None:
        both = [f for f in by_name if arch in f.architectures]
        if both:
            return both[0], f"architecture {arch} and name {name!r} match {both[0].name}"
        by_arch = [f for f in FAMILIES if arch in f.architectures and f.architecture_is_enough]
        if by_arch:
            fam = by_arch[0]
            why = f"architecture {arch} (from {ckpt.config_source}) is {fam.name}"
            if len(by_arch) > 1:
                others = ", ".join(f.name for f in by_arch[1:])
                why += f"; the name does not say which of {fam.name}, {others}: " \
                       f"defaulting to {fam.name} (use --family to choose)"
            return fam, why
        raise UnknownModelError(
            f"{ckpt.model!r} has architecture {arch}, which is not a supported Nemotron "
            f"family{' by itself' if any(arch in f.architectures for f in FAMILIES) else ''}."
            f"\n{supported_text()}")
    if by_name:
        return by_name[0], f"name {name!r} matches {by_name[0].name} (no local config.json)"
    raise UnknownModelError(
        f"Cannot tell which Nemotron family {ckpt.model!r} is: no local config.json and the "
        f"name matches no known family.\n{supported_text()}")


def suggest_tensor_parallel(ckpt: Checkpoint, fam: Family, gpus: GPUs) -> tuple[int, str]:
    """Smallest power-of-two TP whose weight share fits each GPU, within the GPUs present."""
    if gpus.count == 0:
        return 1, "no CUDA GPU present (CPU build): tensor parallel 1"
    weights = ckpt.weight_bytes or _weights_from_name(_name_of(ckpt.model))
    if weights is None:
        return 1, "weight size unknown: tensor parallel 1"
    need = max(1, math.ceil(weights / (WEIGHT_SHARE_OF_GPU * gpus.memory_bytes)))
    tp = 1 << (need - 1).bit_length()
    heads = (ckpt.config or {}).get("num_attention_heads")
    groups = (ckpt.config or {}).get("n_groups") if fam.hybrid else None
    while tp > 1 and any(n and n % tp for n in (heads, groups)):
        tp //= 2  # TP must divide the attention heads (and the Mamba groups)
    why = (f"weights {weights / 2**30:.1f} GiB, {gpus.count} GPU(s) of "
           f"{gpus.memory_bytes / 2**30:.0f} GiB: tensor parallel {min(tp, gpus.count)}")
    if tp > gpus.count:
        why += f" (it needs {tp} GPUs to fit; use more nodes with --pipeline-parallel-size)"
        tp = gpus.count
    return tp, why


def _weights_from_name(name: str) -> int | None:
    """Weight bytes estimated from a hub name like '...-49B-...' (bf16 unless it says FP8/FP4)."""
    match = re.search(r"(\d+(?:\.\d+)?)B(?![a-z])", name, re.IGNORECASE)
    if not match:
        return None
    bytes_per_param = 0.5 if re.search(r"fp4", name, re.I) else 1 if re.search(r"fp8", name, re.I) else 2
    return int(float(match.group(1)) * 1e9 * bytes_per_param)


def make_recipe(model: str, family: str | None = None, gpus: GPUs | None = None) -> Recipe:
    """The recipe for `model` (a local checkpoint directory or a hub name)."""
    ckpt = inspect_checkpoint(model)
    if family:
        fam, why = family_by_name(family), f"family {family} chosen with --family"
    else:
        fam, why = choose_family(ckpt)
    reasons = [f"family: {why}"]
    args: list[str] = []
    if fam.tool_parser:
        args += ["--enable-auto-tool-choice", "--tool-call-parser", fam.tool_parser]
        reasons.append(f"tool parser: {fam.tool_parser} reads {fam.name}'s tool-call format")
    if fam.reasoning_parser:
        args += ["--reasoning-parser", fam.reasoning_parser]
        reasons.append(f"reasoning parser: {fam.reasoning_parser} splits <think> reasoning")
    if fam.chat_template:
        args += ["--chat-template", chat_templates.path(fam.chat_template)]
        reasons.append(f"chat template: {fam.chat_template} (shipped with vllm-nemotron)")
    if fam.hybrid:
        args += ["--mamba-ssm-cache-dtype", "float32"]
        reasons.append("mamba SSM cache float32: the recurrent state drifts in bf16")
    max_len, len_why = fam.max_model_len, f"{fam.name} supports {fam.max_model_len} tokens"
    config_len = (ckpt.config or {}).get("max_position_embeddings")
    if config_len and config_len < max_len:
        max_len, len_why = config_len, f"config.json max_position_embeddings is {config_len}"
    args += ["--max-model-len", str(max_len)]
    reasons.append(f"max model len {max_len}: {len_why}")
    gpus = gpus if gpus is not None else GPUs.present()
    if fam.hybrid and gpus.count == 0:
        args += ["--no-enable-prefix-caching"]
        reasons.append("prefix caching off: on the CPU build, vLLM 0.32's Mamba scan returns no "
                       "per-chunk states, so a cached hybrid crashes on multi-chunk prompts")
    tp, tp_why = suggest_tensor_parallel(ckpt, fam, gpus)
    if tp > 1:
        args += ["--tensor-parallel-size", str(tp)]
    reasons.append(tp_why)
    return Recipe(model, fam, args, reasons)


def _flag_name(arg: str) -> str | None:
    if not arg.startswith("--"):
        return None
    name = arg[2:].split("=", 1)[0].replace("_", "-")
    return name[3:] if name.startswith("no-") else name


def merge_args(recipe_args: list[str], extra: list[str]) -> list[str]:
    """Recipe arguments with every flag the user also gave removed, then the user's arguments."""
    overridden = {name for a in extra if (name := _flag_name(a))}
    merged, i = [], 0
    while i < len(recipe_args):
        name = _flag_name(recipe_args[i])
        has_value = i + 1 < len(recipe_args) and _flag_name(recipe_args[i + 1]) is None \
            and "=" not in recipe_args[i]
        step = 2 if has_value else 1
        if name not in overridden:
            merged += recipe_args[i:i + step]
        i += step
    return merged + list(extra)
