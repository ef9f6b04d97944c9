"""Run a function right after a module is imported, or at once if it already is.

`register()` runs in every vLLM process, API server and engine alike; the reply hooks belong in
the API server only, whose serving modules are imported after `register()` ran. Waiting for the
import installs them there, and costs the engine processes nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

Hook = Callable[[ModuleType], None]
_WAITING: dict[str, list[Hook]] = {}


class _AfterImportFinder(importlib.abc.MetaPathFinder):
    """Finds a waited-for module as the path finder would, and runs its hooks once it loaded."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _WAITING:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        loader = None if spec is None else spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return None  # let the other finders have it; its hooks wait on
        exec_module = loader.exec_module

        def exec_then_hook(module: ModuleType) -> None:
            exec_module(module)
            for hook in _WAITING.pop(fullname, []):
                hook(module)

        loader.exec_module = exec_then_hook  # type: ignore[method-assign]
        return spec


_FINDER = _AfterImportFinder()


def after_import(module_name: str, hook: Hook) -> None:
    """Call `hook(module)` once `module_name` is imported (now, if it already is)."""
    module = sys.modules.get(module_name)
    if module is not None:
        hook(module)
        return
    _WAITING.setdefault(module_name, []).append(hook)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
