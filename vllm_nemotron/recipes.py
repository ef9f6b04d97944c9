"""Serving recipes: the vLLM flags each Nemotron family needs, chosen from a checkpoint.

A recipe is picked from the checkpoint's architecture (`config.json`, read from a local
directory or the local Hugging Face cache) and its name (hub id or directory name). It gives
the parsers, the chat template (the checkpoint's own unless template_choice says otherwise),
the float32 Mamba SSM cache for hybrids, the context length, and the tensor/pipeline parallel
plan for a target (planning). Every choice carries its reason, so `recipe`, `serve` and
`doctor` can say why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from vllm_nemotron.checkpoint import Checkpoint, inspect_checkpoint
from vllm_nemotron.planning import Plan, Target, plan_parallelism, weights_from_name
from vllm_nemotron.template_choice import TemplateChoice, choose_template

TOOL_TEMPLATE_NEEDS = ("tools", "tool_calls")


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
    chat_template: str | None = None  # our template (file in vllm_nemotron.chat_templates)
    # Set when the model card serves the family with a separate template: ours reproduces it.
    card_template: str | None = None
    # What the checkpoint's template must support for this recipe (template_choice.FEATURES).
    template_needs: tuple[str, ...] = TOOL_TEMPLATE_NEEDS
    # What the published checkpoints' own templates lack (used when none can be read here).
    own_template_lacks: tuple[str, ...] = ()
    own_template_note: str = ""
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
        card_template="the model card serves tool calls with a separate template "
        "(llama_nemotron_nano_generic_tool_calling.jinja); ours writes its format",
        architecture_is_enough=False,
        examples=("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1",),
    ),
    Family(
        name="llama-nemotron-super-v1.5",
        description="Llama-3.3-Nemotron-Super-49B-v1.5 (DeciLM): /think and /no_think, "
        "<TOOLCALL> JSON tool calls in its own template",
        architectures=("DeciLMForCausalLM",),
        name_pattern=r"super-49b-v1[._]5",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="llama_nemotron_thinking",
        own_template_note="Super-49B-v1.5's own template renders tools, tool calls and "
        "/think, /no_think",
        architecture_is_enough=False,
        examples=("nvidia/Llama-3_3-Nemotron-Super-49B-v1_5",),
    ),
    Family(
        name="llama-nemotron-nas",
        description="Llama-Nemotron Super-49B-v1 / Ultra-253B-v1 (DeciLM, NAS-derived blocks)",
        architectures=("DeciLMForCausalLM",),
        name_pattern=r"nemotron-(super|ultra)|deci",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="llama_nemotron_thinking",
        chat_template="llama_nemotron_tools.jinja",
        own_template_lacks=("tools", "tool_calls"),
        own_template_note="Ultra-253B-v1's own template renders no tools; ours keeps its chat "
        "format and adds the Llama-Nemotron <AVAILABLE_TOOLS>/<TOOLCALL> format",
        examples=("nvidia/Llama-3_3-Nemotron-Super-49B-v1",
                  "nvidia/Llama-3_1-Nemotron-Ultra-253B-v1"),
    ),
    Family(
        name="nemotron-3-nano",
        description="NVIDIA-Nemotron-3-Nano (hybrid Mamba2/attention): enable_thinking, "
        "XML tool calls, 262k context",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nemotron-3-nano|nano[-_]v3",
        max_model_len=262144,
        tool_parser="qwen3_coder",
        reasoning_parser="nano_v3",
        chat_template="nemotron_nano_v3.jinja",
        template_needs=(*TOOL_TEMPLATE_NEEDS, "enable_thinking"),
        own_template_note="Its own template reads enable_thinking and truncate_history_thinking",
        hybrid=True,
        examples=("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16",
                  "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"),
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
        template_needs=(*TOOL_TEMPLATE_NEEDS, "/think"),
        own_template_note="Its own template switches thinking with /think and /no_think only, "
        "not with enable_thinking or reasoning_effort (ours reads both: "
        "--chat-template-from-plugin)",
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
        own_template_lacks=("tool_calls",),
        own_template_note="Nemotron-Mini-4B-Instruct's own template drops the assistant's tool "
        "calls from the history; ours writes them as the card's <toolcall> turns",
        examples=("nvidia/Nemotron-Mini-4B-Instruct",),
    ),
)


class UnknownModelError(ValueError):
    """No recipe fits the model; the message lists what is supported."""


@dataclass
class Recipe:
    """The chosen family, its vLLM arguments, and why each was chosen."""

    model: str
    family: Family
    args: list[str]
    reasons: list[str] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    target: Target | None = None
    plan: Plan | None = None
    template: TemplateChoice | None = None


def supported_text() -> str:
    lines = ["Supported families (pick one with --family NAME):"]
    for fam in FAMILIES:
        lines.append(f"  {fam.name:25s} {', '.join(fam.architectures)}: {fam.description}")
        lines.extend(f"  {'':25s} e.g. {ex}" for ex in fam.examples)
    return "\n".join(lines)


def family_by_name(name: str) -> Family:
    for fam in FAMILIES:
        if fam.name == name:
            return fam
    raise UnknownModelError(f"Unknown family {name!r}.\n{supported_text()}")


def choose_family(ckpt: Checkpoint) -> tuple[Family, str]:
    """The family for a checkpoint, and the reason."""
    name, arch = ckpt.name, ckpt.architecture
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


def plan_for(ckpt: Checkpoint, fam: Family, target: Target) -> Plan:
    """The parallel plan: weights from the local copy, else from the name's parameter count."""
    config = ckpt.config or {}
    divisors = (config.get("num_attention_heads"), config.get("n_groups") if fam.hybrid else None)
    weights = ckpt.weight_bytes or weights_from_name(ckpt.name)
    return plan_parallelism(weights, target, divisors)


def make_recipe(model: str, family: str | None = None, target: Target | None = None,
                template_from_plugin: bool = False) -> Recipe:
    """The recipe for `model` (a local checkpoint directory or a hub name) on `target`.

    Without a target it is for this machine: its CUDA GPUs, else the CPU build.
    """
    ckpt = inspect_checkpoint(model)
    if family:
        fam, why = family_by_name(family), f"family {family} chosen with --family"
    else:
        fam, why = choose_family(ckpt)
    target = target or Target.present() or Target.cpu_build()
    reasons = [f"family: {why}"]
    args: list[str] = []
    if fam.tool_parser:
        args += ["--enable-auto-tool-choice", "--tool-call-parser", fam.tool_parser]
        reasons.append(f"tool parser: {fam.tool_parser} reads {fam.name}'s tool-call format")
    if fam.reasoning_parser:
        args += ["--reasoning-parser", fam.reasoning_parser]
        reasons.append(f"reasoning parser: {fam.reasoning_parser} splits <think> reasoning")
    template = choose_template(fam, ckpt, template_from_plugin)
    if template.path:
        args += ["--chat-template", template.path]
    reasons.append(f"chat template: {template.reason}")
    if fam.hybrid:
        args += ["--mamba-ssm-cache-dtype", "float32"]
        reasons.append("mamba SSM cache float32: the recurrent state drifts in bf16")
    max_len, len_why = fam.max_model_len, f"{fam.name} supports {fam.max_model_len} tokens"
    config_len = (ckpt.config or {}).get("max_position_embeddings")
    if config_len and config_len < max_len:
        max_len, len_why = config_len, f"config.json max_position_embeddings is {config_len}"
    args += ["--max-model-len", str(max_len)]
    reasons.append(f"max model len {max_len}: {len_why}")
    if fam.hybrid and target.cpu:
        args += ["--no-enable-prefix-caching"]
        reasons.append("prefix caching off: on the CPU build, vLLM 0.32's Mamba scan returns no "
                       "per-chunk states, so a cached hybrid crashes on multi-chunk prompts")
    plan = plan_for(ckpt, fam, target)
    args += plan.args()
    reasons.append(f"parallelism: {plan.reason}")
    return Recipe(model, fam, args, reasons, ckpt, target, plan, template)


def flag_spans(args: list[str]) -> Iterator[tuple[str | None, str | None, int, int]]:
    """(name, value, start, end) for each item of `vllm serve`-style arguments: a `--flag`,
    named as vLLM reads it (`--a_b` is `a-b`), with its `=value` or the next argument when that
    is no flag; or a lone positional argument (name None)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            yield None, None, i, i + 1
            i += 1
            continue
        name, eq, value = arg[2:].partition("=")
        name = name.replace("_", "-")
        if not eq and i + 1 < len(args) and not args[i + 1].startswith("--"):
            yield name, args[i + 1], i, i + 2
            i += 2
        else:
            yield name, value if eq else None, i, i + 1
            i += 1


def _setting(name: str) -> str:
    """The setting a flag controls: `--no-x` and `--x` set the same one."""
    return name[3:] if name.startswith("no-") else name


def merge_args(recipe_args: list[str], extra: list[str]) -> list[str]:
    """Recipe arguments with every flag the user also gave removed, then the user's arguments."""
    overridden = {_setting(name) for name, _, _, _ in flag_spans(extra) if name}
    merged: list[str] = []
    for name, _, start, end in flag_spans(recipe_args):
        if name is None or _setting(name) not in overridden:
            merged += recipe_args[start:end]
    return merged + list(extra)
