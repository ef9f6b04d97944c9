"""Flag combinations users of the Nemotron 3 models hit upstream, as data: doctor checks each.

Every entry names its source (an issue in vLLM's tracker) and was read against vLLM 0.32 and
0.33's own code before it went in: `applies` looks at the recipe and at vLLM's reading of the
arguments (the `serve` parser's namespace), so it sees the command as vLLM will. Issues found
fixed in 0.32 are listed in docs/recipes.md, not here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from vllm_nemotron.serving.checkpoint import NVFP4
from vllm_nemotron.serving.recipes import Recipe

ISSUES = "https://github.com/vllm-project/vllm/issues/"


@dataclass(frozen=True)
class KnownIssue:
    label: str
    level: str  # as preflight.Finding: "note", "warn" or "FAIL"
    applies: Callable[[Recipe, argparse.Namespace], bool]
    detail: str
    source: str


def _nvfp4_moe_auto_backend(recipe: Recipe, args: argparse.Namespace) -> bool:
    return recipe.family.moe and recipe.precision == NVFP4 and \
        getattr(args, "moe_backend", "auto") in (None, "auto", "flashinfer_trtllm")


def _mtp_with_prefix_caching(recipe: Recipe, args: argparse.Namespace) -> bool:
    spec = getattr(args, "speculative_config", None) or {}
    return recipe.family.hybrid and spec.get("method") in ("mtp", "nemotron_h_mtp") and \
        args.enable_prefix_caching is not False


def _reasoning_config(recipe: Recipe, args: argparse.Namespace) -> bool:
    return getattr(args, "reasoning_config", None) is not None


KNOWN_ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        "NVFP4 MoE backend", "warn", _nvfp4_moe_auto_backend,
        "on B200/GB200 (SM100) vLLM picks FlashInfer's TRT-LLM monolithic NVFP4 MoE kernel, "
        "which gives fluent but wrong output for Nemotron's non-gated relu² experts (still so "
        "in vLLM 0.32 and 0.33); there, pass --moe-backend flashinfer_cutlass",
        ISSUES + "52308"),
    KnownIssue(
        "MTP with prefix caching", "note", _mtp_with_prefix_caching,
        "safe on vLLM 0.32/0.33: they cache Mamba state only in 'align' mode, the workaround "
        "of the start-up crash reported with the former 'all' mode (and method "
        "'nemotron_h_mtp' is now the same as 'mtp')",
        ISSUES + "39809"),
    KnownIssue(
        "flag --reasoning-config", "warn", _reasoning_config,
        "made vLLM's nemotron_v3 reasoning parser return content null and think without "
        "bound; not needed for a budget: vLLM 0.32's thinking_token_budget works with "
        "--reasoning-parser alone, and the plugin's thinking_budget needs neither",
        ISSUES + "39103"),
)


def known_issue_findings(recipe: Recipe, args: argparse.Namespace
                         ) -> list[tuple[str, str, str]]:
    """(level, label, detail with its source) for every known issue the command runs into."""
    return [(issue.level, issue.label, f"{issue.detail} ({issue.source})")
            for issue in KNOWN_ISSUES if issue.applies(recipe, args)]
