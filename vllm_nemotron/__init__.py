"""vLLM plugin for NVIDIA's Nemotron families.

vLLM calls `register()` through the `vllm.general_plugins` entry point in every process it
starts (API server, engine core, workers). Registration is lazy: vLLM receives
`"module:Class"` strings and imports a piece only when a model or request names it, so
`register()` stays cheap, idempotent and CUDA-free.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# Set to 1 to run vLLM as if the plugin were not installed (docs/without-the-plugin.md):
# `register()` registers nothing and the thinking-budget processor, which vLLM loads from its
# entry point whatever VLLM_PLUGINS says, passes every request through untouched.
DISABLE_ENV = "VLLM_NEMOTRON_DISABLE"
_ON, _OFF = frozenset({"1", "true", "yes", "on"}), frozenset({"", "0", "false", "no", "off"})


def disabled() -> bool:
    """Whether VLLM_NEMOTRON_DISABLE turns the whole plugin off (raises on a value that is
    neither on nor off, so a typo does not silently keep it on)."""
    value = os.environ.get(DISABLE_ENV, "").strip().lower()
    if value not in _ON | _OFF:
        raise ValueError(f"{DISABLE_ENV}: expected 1 or 0 (true/false, yes/no, on/off), "
                         f"got {os.environ[DISABLE_ENV]!r}")
    return value in _ON

# architecture -> "module:Class" of our vLLM model class
MODEL_CLASSES: dict[str, str] = {
    "DeciLMForCausalLM": "vllm_nemotron.models.decilm:DeciLMForCausalLM",
    "NemotronHForCausalLM": "vllm_nemotron.models.nemotron_h:NemotronHForCausalLM",
    # vLLM maps Puzzle (per-layer configured) Nemotron-H checkpoints to the same in-tree class
    "NemotronHPuzzleForCausalLM": "vllm_nemotron.models.nemotron_h:NemotronHForCausalLM",
}

# --tool-call-parser name -> "module:Class"
TOOL_PARSERS: dict[str, str] = {
    "llama_nemotron_json":
        "vllm_nemotron.parsers.llama_nemotron_json_tool_parser:LlamaNemotronJsonToolParser",
    "nemotron_mini": "vllm_nemotron.parsers.nemotron_mini_tool_parser:NemotronMiniToolParser",
    "nemotron3_xml": "vllm_nemotron.parsers.nemotron3_xml_tool_parser:Nemotron3XmlToolParser",
}

# --reasoning-parser name -> "module:Class"
REASONING_PARSERS: dict[str, str] = {
    "nano_v3": "vllm_nemotron.parsers.nano_v3_reasoning_parser:NanoV3ReasoningParser",
    "super_v3": "vllm_nemotron.parsers.nano_v3_reasoning_parser:NanoV3ReasoningParser",
    "ultra_v3": "vllm_nemotron.parsers.nano_v3_reasoning_parser:NanoV3ReasoningParser",
    "llama_nemotron_thinking":
        "vllm_nemotron.parsers.nano_v3_reasoning_parser:LlamaNemotronThinkingReasoningParser",
}

# renderer mode -> "module:Class" that takes the place of vLLM's own renderer for that mode
# (ours extends it: vLLM renders the chat template before a parser sees the request)
RENDERERS: dict[str, str] = {
    "hf": "vllm_nemotron.thinking_budget.renderer:EffortHfRenderer",
}

# functions that register config classes (so checkpoints load without --trust-remote-code)
CONFIG_REGISTRARS: list[str] = ["vllm_nemotron.configs:register_configs"]

_registered = False


def _split(target: str) -> tuple[str, str]:
    module, _, name = target.partition(":")
    return module, name


def _log_like_vllm() -> None:
    """Our loggers write where vLLM's own do, at its level: the API server's root logger stops
    at ERROR, so a warning from a logger outside `vllm.` would be lost there. vLLM may set up
    its handlers after this runs, so ours looks them up per record. Left alone when vLLM
    configures no logging (VLLM_CONFIGURE_LOGGING=0)."""
    import logging

    from vllm import envs

    class ToVllmHandlers(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            for handler in logging.getLogger("vllm").handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)

    ours = logging.getLogger(__name__)
    if envs.VLLM_CONFIGURE_LOGGING and not ours.handlers:
        ours.addHandler(ToVllmHandlers())
        ours.setLevel(envs.VLLM_LOGGING_LEVEL)
        ours.propagate = False


def register() -> None:
    """Register every piece of the plugin with vLLM (idempotent)."""
    global _registered
    if _registered or disabled():
        return

    import importlib

    _log_like_vllm()

    from vllm_nemotron.thinking_budget.effort import check_environment

    # vLLM calls this while it parses its arguments: a bad VLLM_NEMOTRON_* value stops the
    # server there, with a message naming the variable, instead of failing requests later.
    check_environment()
    _registered = True

    from vllm import ModelRegistry
    from vllm.reasoning import ReasoningParserManager
    from vllm.renderers.registry import RENDERER_REGISTRY
    from vllm.tool_parsers import ToolParserManager

    for target in CONFIG_REGISTRARS:
        module, name = _split(target)
        getattr(importlib.import_module(module), name)()
    for arch, target in MODEL_CLASSES.items():
        ModelRegistry.register_model(arch, target)
    for name, target in TOOL_PARSERS.items():
        ToolParserManager.register_lazy_module(name, *_split(target))
    for name, target in REASONING_PARSERS.items():
        ReasoningParserManager.register_lazy_module(name, *_split(target))
    for mode, target in RENDERERS.items():
        # only in place of vLLM's own renderer, never of another plugin's
        if RENDERER_REGISTRY.renderers.get(mode, ("vllm.",))[0].startswith("vllm."):
            RENDERER_REGISTRY.renderers[mode] = _split(target)

    # The API server's replies say who closed a thought (thinking_budget/reply.py): vLLM's reply
    # builders are wrapped when that process imports them; other processes never do.
    from vllm_nemotron.after_import import after_import
    from vllm_nemotron.thinking_budget import reply

    for module in reply.HOOKS:
        after_import(module, reply.install)
