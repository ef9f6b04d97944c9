"""What `vllm-nemotron doctor <model>` checks before a long download and start.

The recipe plus the user's own arguments are parsed by vLLM's own `serve` argument parser (so
a flag this vLLM does not accept is caught here, not after the download), then compared with
the recipe: flags that undo what the family needs, names easily mistaken for each other, and,
for hybrid Mamba models, whether prefix caching will be on and at what granularity.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import io
import math
import os
from dataclasses import dataclass
from typing import Any

from vllm_nemotron.serving.checkpoint import NVFP4
from vllm_nemotron.serving.known_issues import known_issue_findings
from vllm_nemotron.serving.recipes import Recipe, flag_spans

# Smallest attention kernel block of vLLM 0.32's GPU backends (FlashAttention: 16), which is
# also the GPU default block size.
KERNEL_BLOCK = 16
# Hybrid prefix caching silently reuses nothing when one block outgrows the prompts.
BLOCK_ISSUE = "https://github.com/vllm-project/vllm/issues/54504"
# Flags whose job the plugin already does.
NOT_NEEDED = {
    "trust-remote-code": "the plugin registers the Nemotron model and config classes; this "
                         "flag would run Python code from the hub",
    "tool-parser-plugin": "the plugin registers its tool parsers in every vLLM process",
    "reasoning-parser-plugin": "the plugin registers its reasoning parsers in every vLLM process",
}


@dataclass(frozen=True)
class Finding:
    level: str  # "ok", "note", "warn" or "FAIL" (vLLM would refuse to start, or cannot load it)
    label: str
    detail: str


def _normalized(args: list[str]) -> list[str]:
    """--a_b becomes --a-b, as `vllm serve` reads it."""
    out = []
    for arg in args:
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            arg = name.replace("_", "-") + eq + value
        out.append(arg)
    return out


def vllm_cli_args() -> Any:
    """vLLM's module of `serve` arguments (`make_arg_parser`, `validate_parsed_serve_args`):
    vLLM 0.33 moved it from `entrypoints.launchers` to `entrypoints.common`."""
    try:
        return importlib.import_module("vllm.entrypoints.common.cli_args")
    except ImportError:  # vLLM 0.32
        return importlib.import_module("vllm.entrypoints.launchers.cli_args")


def _parse_on_cpu_platform_without_a_device() -> None:
    """A GPU build of vLLM on a machine with no GPU (a laptop or CI runner planning for a GPU
    host) cannot infer its device and refuses to build its `serve` parser ("Failed to infer
    device type"); its CPU platform reads the same flags. vLLM picks its platform once, on
    first use, so this must run before then."""
    from vllm import platforms

    if "VLLM_TARGET_DEVICE" not in os.environ and \
            platforms.resolve_current_platform_cls_qualname().endswith("UnspecifiedPlatform"):
        os.environ["VLLM_TARGET_DEVICE"] = "cpu"


def vllm_parser() -> argparse.ArgumentParser:
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    _parse_on_cpu_platform_without_a_device()
    return vllm_cli_args().make_arg_parser(FlexibleArgumentParser())


def parse_with_vllm(model: str, args: list[str]
                    ) -> tuple[argparse.Namespace | None, list[Finding]]:
    """vLLM's reading of the arguments, and a FAIL for each flag it rejects."""
    parser = vllm_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            namespace, unknown = parser.parse_known_args([model, *_normalized(args)])
    except SystemExit:
        error = stderr.getvalue().strip().splitlines()[-1:] or ["invalid arguments"]
        return None, [Finding("FAIL", "vLLM arguments", error[0])]
    known = list(parser._option_string_actions)
    findings = []
    for flag in (a.partition("=")[0] for a in unknown if a.startswith("-")):
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        findings.append(Finding("FAIL", f"flag {flag}", f"this vLLM does not accept it{hint}"))
    return namespace, findings


def _user_flags(user_args: list[str]) -> dict[str, str | None]:
    """The user's flags (dashed names, 'no-' kept) and their values."""
    return {name: value for name, value, _, _ in flag_spans(user_args) if name}


def conflicts(recipe: Recipe, user_args: list[str]) -> list[Finding]:
    """The user's flags that change what the family needs, or look like a mistake."""
    fam, flags = recipe.family, _user_flags(user_args)
    in_recipe = {name for name, _, _, _ in flag_spans(recipe.args) if name}
    out = [Finding("note", f"flag --{name}", f"not needed: {why}")
           for name, why in NOT_NEEDED.items() if name in flags and name not in in_recipe]
    if "mamba-cache-dtype" in flags:
        out.append(Finding("warn", "flag --mamba-cache-dtype",
                           "sets the dtype of all Mamba state (conv and SSM); the SSM state is "
                           "set by --mamba-ssm-cache-dtype, which the recipe makes float32. "
                           "Meant the SSM state? Use --mamba-ssm-cache-dtype"))
    ssm = flags.get("mamba-ssm-cache-dtype")
    if fam.hybrid and ssm is not None and ssm != "float32":
        out.append(Finding("warn", "flag --mamba-ssm-cache-dtype",
                           f"{ssm} replaces the recipe's float32: the recurrent state drifts "
                           f"in lower precision over long outputs"))
    for flag, ours in (("tool-call-parser", fam.tool_parser),
                       ("reasoning-parser", fam.reasoning_parser)):
        if flag in flags and flags[flag] != ours:
            out.append(Finding("warn", f"flag --{flag}",
                               f"{flags[flag]} replaces the recipe's {ours}, which reads "
                               f"{fam.name}'s format"))
    if recipe.template is not None and recipe.template.missing and "chat-template" not in flags:
        out.append(Finding("FAIL", "chat template", recipe.template.reason))
    if "chat-template" in flags and recipe.template is not None:
        out.append(Finding("note", "flag --chat-template", f"your template replaces the "
                                                            f"recipe's ({recipe.template.reason})"))
    if fam.hybrid and recipe.target is not None and recipe.target.cpu \
            and "enable-prefix-caching" in flags:
        out.append(Finding("warn", "flag --enable-prefix-caching",
                           "on the CPU build a cached hybrid crashes on multi-chunk prompts"))
    max_len = flags.get("max-model-len")
    if max_len and max_len.isdigit() and int(max_len) > fam.max_model_len:
        out.append(Finding("warn", "flag --max-model-len",
                           f"{max_len} is beyond the {fam.max_model_len} tokens {fam.name} "
                           f"supports"))
    return out


def parallel_check(recipe: Recipe, namespace: argparse.Namespace) -> Finding | None:
    """A warning when the user's TP x PP holds fewer GPUs than the weights need."""
    if recipe.plan is None:
        return None
    planned = recipe.plan.tensor_parallel * recipe.plan.pipeline_parallel
    given = namespace.tensor_parallel_size * namespace.pipeline_parallel_size
    if given < planned:
        return Finding("warn", "parallelism", f"your tensor x pipeline parallel ({given}) is "
                                              f"below the {planned} GPUs the plan needs")
    return None


def mamba_block_tokens(config: dict, tensor_parallel: int, block_size: int | None,
                       kernel_block: int = KERNEL_BLOCK, kv_bytes: int = 2) -> int:
    """The attention block size vLLM 0.32 picks for a hybrid, so one page holds a Mamba state.

    As vllm/platforms/interface.py (_align_hybrid_block_size): conv state in the model dtype
    (2 bytes), SSM state in float32 (the recipe), KV in the model dtype or fp8 (`kv_bytes`
    1); the block is the smallest multiple of the kernel block (or of the block size asked
    for, if larger) whose KV page holds at least one Mamba state.
    """
    from vllm.model_executor.layers.mamba.mamba_utils import MambaStateShapeCalculator

    conv, ssm = MambaStateShapeCalculator.mamba2_state_shape(
        tp_world_size=tensor_parallel,
        intermediate_size=config["mamba_num_heads"] * config["mamba_head_dim"],
        n_groups=config["n_groups"], num_heads=config["mamba_num_heads"],
        head_dim=config["mamba_head_dim"], state_size=config["ssm_state_size"],
        conv_kernel=config["conv_kernel"])
    mamba_page = 2 * math.prod(conv) + 4 * math.prod(ssm)
    kv_heads = max(1, config["num_key_value_heads"] // tensor_parallel)
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    kv_per_token = 2 * kv_heads * head_dim * kv_bytes
    align = max(kernel_block, block_size or 0)
    return align * math.ceil(mamba_page / (align * kv_per_token))


def prefix_caching(recipe: Recipe, namespace: argparse.Namespace) -> Finding:
    """Whether a hybrid will cache prefixes, and in blocks of how many tokens."""
    if namespace.enable_prefix_caching is False:
        return Finding("note", "prefix caching", "off (--no-enable-prefix-caching)")
    if recipe.target is not None and recipe.target.cpu:
        return Finding("note", "prefix caching", "on as you asked, on the CPU build (see above)")
    config = recipe.checkpoint.language_config if recipe.checkpoint else {}
    tp = recipe.plan.tensor_parallel if recipe.plan else 1
    tp = namespace.tensor_parallel_size if namespace.tensor_parallel_size > 1 else tp
    kv_bytes = 1 if str(namespace.kv_cache_dtype).startswith("fp8") else 2
    try:
        block = mamba_block_tokens(config, tp, namespace.block_size, kv_bytes=kv_bytes)
    except KeyError:
        return Finding("note", "prefix caching",
                       "on (vLLM 0.32 caches hybrid prefixes, Mamba cache mode 'align'); its "
                       "block size depends on the Mamba state size, known once config.json is "
                       "local")
    max_len = namespace.max_model_len or recipe.family.max_model_len
    kv = "fp8" if kv_bytes == 1 else "bf16"
    detail = (f"on (Mamba cache mode 'align'), in blocks of {block} tokens (estimated from "
              f"config.json at tensor parallel {tp} with {kv} KV: vLLM grows the block until "
              f"one KV page holds a Mamba state); only whole blocks of a shared prefix are "
              f"reused")
    if max_len < block:
        return Finding("warn", "prefix caching",
                       f"on, but --max-model-len {max_len} is shorter than one {block}-token "
                       f"block: no prefix will ever be reused ({BLOCK_ISSUE})")
    return Finding("ok", "prefix caching", detail)


# --moe-backend values naming NVFP4 MoE kernels that need FP4 tensor cores: their experts'
# `_supports_current_device` / `_supports_quant_scheme` in vLLM 0.32's fused_moe/experts/
# ask for SM100 (trtllm_nvfp4_moe, flashinfer_cutedsl_moe, flashinfer_cutlass_moe for NVFP4),
# SM100/110/120 (cutlass_moe's FP4 experts) or SM120 (flashinfer_b12x_moe).
FP4_ONLY_MOE_BACKENDS = ("flashinfer_trtllm", "flashinfer_cutlass", "flashinfer_cutedsl",
                         "cutlass", "flashinfer_b12x")


def nvfp4_without_fp4_cores(recipe: Recipe, namespace: argparse.Namespace) -> Finding | None:
    """What vLLM 0.32 does with an NVFP4 checkpoint on a GPU without FP4 tensor cores
    (Hopper), as its own code selects the kernels."""
    if recipe.precision != NVFP4 or (recipe.target is not None and recipe.target.cpu):
        return None
    detail = (
        "on a GPU without FP4 tensor cores (Hopper H100/H200, SM90) vLLM 0.32 keeps the NVFP4 "
        "weights as they are (same memory) and runs them weight-only with BF16 activations "
        "(W4A16): for the experts, select_nvfp4_moe_backend "
        "(model_executor/layers/fused_moe/oracle/nvfp4.py) passes over the FP4 kernels "
        "(FlashInfer TRT-LLM, CuteDSL and CUTLASS, vLLM's CUTLASS FP4: SM100 and up) to Humming "
        "if the humming package is installed (prioritize_humming puts it first on SM90), else "
        "Marlin (SM75 and up), emulation last; NVFP4 linear layers take "
        "MarlinNvFp4LinearKernel (init_nvfp4_linear_kernel, model_executor/kernels/linear). ")
    scheme = recipe.checkpoint.layer_scheme if recipe.checkpoint is not None else None
    if scheme is not None and "NVFP4" not in scheme.layers.values():
        detail += "This checkpoint is weight-only NVFP4 (W4A16_NVFP4): W4A16 on every GPU"
    else:
        detail += "Blackwell (SM100) runs them W4A4"
    backend = getattr(namespace, "moe_backend", None)
    if backend in FP4_ONLY_MOE_BACKENDS:
        detail += (f"; --moe-backend {backend} names an FP4 kernel, so on Hopper vLLM refuses "
                   f"to start ('does not support the deployment configuration'): leave it "
                   f"auto or use marlin there")
    return Finding("note", "NVFP4 without FP4 tensor cores", detail)


def preflight(recipe: Recipe, merged_args: list[str], user_args: list[str]) -> list[Finding]:
    """Every finding for the command the recipe and the user's arguments make together."""
    namespace, findings = parse_with_vllm(recipe.model, merged_args)
    findings += conflicts(recipe, user_args)
    if namespace is not None:
        findings += [Finding(level, label, detail)
                     for level, label, detail in known_issue_findings(recipe, namespace)]
        if (check := parallel_check(recipe, namespace)) is not None:
            findings.append(check)
        if recipe.family.hybrid:
            findings.append(prefix_caching(recipe, namespace))
        if (fp4 := nvfp4_without_fp4_cores(recipe, namespace)) is not None:
            findings.append(fp4)
    if not any(f.level == "FAIL" for f in findings):
        findings.insert(0, Finding("ok", "vLLM arguments", "accepted by this vLLM's serve parser"))
    return findings
