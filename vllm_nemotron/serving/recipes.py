"""Serving recipes: the vLLM flags a Nemotron checkpoint needs, chosen from the family table.

A recipe is picked from the checkpoint's architecture and MoE traits (`config.json`, read from
a local directory or the local Hugging Face cache) and its name (hub id or directory name).
It gives the parsers, the chat template (the checkpoint's own unless template_choice says
otherwise), the float32 Mamba SSM cache for hybrids, an fp8 KV cache where the card serves
one, the context length, the flags a guide requires, MTP speculative decoding and expert
parallelism when asked for, and the tensor/pipeline parallel plan for a target (planning).
Every choice carries its reason, so `recipe`, `serve` and `doctor` can say why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from vllm_nemotron.serving.checkpoint import Checkpoint, config_traits, inspect_checkpoint
from vllm_nemotron.serving.families import FAMILIES, Family, family_named
from vllm_nemotron.serving.parameters import (
    BYTES_PER_WEIGHT,
    count_parameters,
    sequence_cache,
)
from vllm_nemotron.serving.planning import (
    DoesNotFitError,
    Footprint,
    Plan,
    Target,
    params_from_name,
    plan_parallelism,
)
from vllm_nemotron.serving.template_choice import TemplateChoice, choose_template

# vLLM 0.32/0.33 accept "nemotron_h_mtp" as well and rename it to this (config/speculative.py).
MTP_METHOD = "mtp"


class UnknownModelError(ValueError):
    """No recipe fits the model; the message lists what is supported."""


class RecipeOptionError(ValueError):
    """An option the family cannot take (MTP without an MTP head, EP without experts)."""


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
    precision: str = "BF16"
    mtp_tokens: int | None = None


def supported_text() -> str:
    lines = ["Supported families (pick one with --family NAME):"]
    for fam in FAMILIES:
        lines.append(f"  {fam.name:25s} {', '.join(fam.architectures)}: {fam.description}")
        lines.extend(f"  {'':25s} e.g. {ex}" for ex in fam.examples)
    return "\n".join(lines)


def family_by_name(name: str) -> Family:
    fam = family_named(name)
    if fam is None:
        raise UnknownModelError(f"Unknown family {name!r}.\n{supported_text()}")
    return fam


def _fits_config(fam: Family, config: dict, traits: frozenset[str]) -> bool:
    return fam.traits == traits and all(config.get(k) == v for k, v in fam.config_hint)


def _describe_traits(traits: frozenset[str]) -> str:
    return ", ".join(sorted(traits)) or "no MoE layers"


def choose_family(ckpt: Checkpoint) -> tuple[Family, str]:
    """The family for a checkpoint, and the reason."""
    name, arch = ckpt.name, ckpt.architecture
    by_name = [f for f in FAMILIES if re.search(f.name_pattern, name, re.IGNORECASE)]
    if arch is None:
        if by_name:
            return by_name[0], f"name {name!r} matches {by_name[0].name} (no local config.json)"
        raise UnknownModelError(
            f"Cannot tell which Nemotron family {ckpt.model!r} is: no local config.json and "
            f"the name matches no known family.\n{supported_text()}")
    config = ckpt.language_config
    traits = config_traits(config)
    both = [f for f in by_name if arch in f.architectures]
    if both:
        why = f"architecture {arch} and name {name!r} match {both[0].name}"
        if both[0].hybrid and both[0].traits != traits:
            why += f" (its config has {_describe_traits(traits)}, the family " \
                   f"{_describe_traits(both[0].traits)}: check --family)"
        return both[0], why
    by_arch = [f for f in FAMILIES if arch in f.architectures and f.architecture_is_enough]
    if not by_arch:
        raise UnknownModelError(
            f"{ckpt.model!r} has architecture {arch}, which is not a supported Nemotron "
            f"family{' by itself' if any(arch in f.architectures for f in FAMILIES) else ''}."
            f"\n{supported_text()}")
    shaped = [f for f in by_arch if _fits_config(f, config, traits)] or \
        [f for f in by_arch if f.traits == traits] or by_arch
    fam = shaped[0]
    why = f"architecture {arch} with {_describe_traits(traits)} (from {ckpt.config_source}) " \
          f"is {fam.name}"
    if len(shaped) > 1:
        others = ", ".join(f.name for f in shaped[1:])
        why += f"; the name does not say which of {fam.name}, {others}: " \
               f"defaulting to {fam.name} (use --family to choose)"
    return fam, why


def footprint(ckpt: Checkpoint, fam: Family, precision: str, max_len: int,
              kv_bytes: int) -> Footprint:
    """Weights and one full-length sequence's cache: the weights from the local files, else
    counted from config.json, else from the name's parameter count; the cache from config.json
    (KV of the attention layers, Mamba state)."""
    config = ckpt.language_config
    try:
        counted = count_parameters(config) if fam.hybrid and config else None
        cache = sequence_cache(config, kv_bytes) if fam.hybrid and config else None
    except KeyError as exc:
        raise UnknownModelError(f"{ckpt.config_source}: field {exc} is missing, which the "
                                f"{fam.name} plan needs") from exc
    named = params_from_name(ckpt.name)
    multimodal = ckpt.config is not None and config is not ckpt.config
    mixed = ckpt.mixed_weights if fam.hybrid else None
    if ckpt.weight_bytes:
        weights, source = ckpt.weight_bytes, "the checkpoint's files"
    elif mixed is not None and counted is not None and not (multimodal and named):
        # A mixed-precision checkpoint: each module at its own algorithm (mixed_precision).
        weights = mixed.bytes
        source = f"{mixed.describe()}, summed layer by layer over " \
                 f"{counted.total / 1e9:.1f}B parameters counted from config.json"
        if counted.active < counted.total:
            source += f"; {counted.active / 1e9:.1f}B active per token, but every expert is held"
    elif counted is not None and not (multimodal and named):
        weights = counted.weight_bytes(precision)
        source = f"{precision}, {counted.total / 1e9:.1f}B parameters counted from config.json"
        if counted.active < counted.total:
            source += f"; {counted.active / 1e9:.1f}B active per token, but every expert is held"
    elif named is not None:
        weights = int(named * BYTES_PER_WEIGHT.get(precision, 2))
        source = f"{precision}, {named / 1e9:g}B parameters from the name"
    else:
        return Footprint(None, "unknown")
    if cache is None:
        return Footprint(weights, source)
    kv = "fp8" if kv_bytes == 1 else "bf16"
    return Footprint(weights, source, cache.bytes(max_len),
                     f"one {max_len}-token sequence: {kv} KV of {cache.attention_layers} "
                     f"attention layers, float32 Mamba state of {cache.mamba_layers} layers")


def _check_options(ckpt: Checkpoint, fam: Family, mtp: int | None,
                   expert_parallel: bool) -> None:
    traits = config_traits(ckpt.language_config) if ckpt.config else None
    if mtp is not None and (fam.mtp_tokens is None or (traits is not None and "mtp" not in traits)):
        raise RecipeOptionError(f"--mtp: {ckpt.model} ({fam.name}) has no MTP layer "
                                f"(num_nextn_predict_layers) to draft with")
    if expert_parallel and (not fam.moe or (traits is not None and "moe" not in traits)):
        raise RecipeOptionError(f"--expert-parallel: {ckpt.model} ({fam.name}) has no MoE "
                                f"layers")


def make_recipe(model: str, family: str | None = None, target: Target | None = None,
                template_from_plugin: bool = False, mtp: int | None = None,
                expert_parallel: bool = False) -> Recipe:
    """The recipe for `model` (a local checkpoint directory or a hub name) on `target`.

    Without a target it is for this machine: its CUDA GPUs, else the CPU build. `mtp`: draft
    that many tokens with the MTP head (0: as many as the family's guides); `expert_parallel`:
    spread the experts over the GPUs.
    """
    ckpt = inspect_checkpoint(model)
    if family:
        fam, why = family_by_name(family), f"family {family} chosen with --family"
    else:
        fam, why = choose_family(ckpt)
    _check_options(ckpt, fam, mtp, expert_parallel)
    target = target or Target.present() or Target.cpu_build()
    if target.cpu and fam.moe:
        raise DoesNotFitError(f"needs a GPU: {fam.name} has MoE layers, and vLLM's CPU build has "
                              f"no kernel for their non-gated relu² experts (engine start fails: "
                              f"'is_act_and_mul=False is supported only for CUDA, XPU and "
                              f"ROCm'); plan it for a GPU host with vllm-nemotron recipe")
    precision, precision_from = ckpt.precision()
    reasons = [f"family: {why}"]
    if fam.precisions != ("BF16",) or precision != "BF16":
        reasons.append(f"checkpoint precision {precision} (from {precision_from}); "
                       f"{fam.name} is published in {', '.join(fam.precisions)}")
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
    kv_bytes = 2
    if precision in fam.fp8_kv_cache:
        kv_bytes = 1
        args += ["--kv-cache-dtype", "fp8"]
        scales = "; the checkpoint ships fp8 KV scales" if ckpt.kv_cache_quantized() else ""
        reasons.append(f"KV cache fp8: {fam.name}'s card serves the {precision} checkpoint "
                       f"with it{scales}")
    max_len, len_why = fam.max_model_len, f"{fam.name} supports {fam.max_model_len} tokens"
    config_len = ckpt.language_config.get("max_position_embeddings")
    if config_len and config_len < max_len:
        max_len, len_why = config_len, f"config.json max_position_embeddings is {config_len}"
    args += ["--max-model-len", str(max_len)]
    reasons.append(f"max model len {max_len}: {len_why}")
    for flag in fam.extra:
        if not flag.precisions or precision in flag.precisions:
            args += list(flag.args)
            reasons.append(f"{' '.join(flag.args)}: {flag.why}")
    if fam.hybrid and target.cpu:
        args += ["--no-enable-prefix-caching"]
        reasons.append("prefix caching off: on the CPU build, vLLM 0.32's Mamba scan returns no "
                       "per-chunk states, so a cached hybrid crashes on multi-chunk prompts")
    tokens = None
    if mtp is not None:
        tokens = mtp or fam.mtp_tokens
        config = {"method": MTP_METHOD, "num_speculative_tokens": tokens}
        args += ["--speculative-config", json.dumps(config)]
        reasons.append(f"MTP speculative decoding: the checkpoint's MTP layer drafts {tokens} "
                       f"tokens a step (--mtp; {fam.name}'s guides use {fam.mtp_tokens})")
    language = ckpt.language_config
    need = footprint(ckpt, fam, precision, max_len, kv_bytes)
    divisors = (language.get("num_attention_heads"),
                language.get("n_groups") if fam.hybrid else None)
    plan = plan_parallelism(need, target, divisors, language.get("n_routed_experts"),
                            expert_parallel)
    args += plan.args()
    reasons.append(f"parallelism: {plan.reason}")
    return Recipe(model, fam, args, reasons, ckpt, target, plan, template, precision, tokens)


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
