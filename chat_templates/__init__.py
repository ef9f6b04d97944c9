"""The chat templates shipped with the plugin, and the one place that locates them.

They are fallbacks for checkpoints whose own template lacks something the family needs (or that
the model card replaces); the recipes decide when one is used.
"""

from __future__ import annotations

from importlib.resources import files


def names() -> list[str]:
    """File names of the shipped templates, sorted."""
    return sorted(p.name for p in files(__name__).iterdir() if p.name.endswith(".jinja"))


def path(name: str) -> str:
    """Absolute path of a shipped template; `name` with or without `.jinja`."""
    file_name = name if name.endswith(".jinja") else f"{name}.jinja"
    return str(files(__name__).joinpath(file_name))


def text(name: str) -> str:
    """The text of a shipped template; `name` with or without `.jinja`."""
    file_name = name if name.endswith(".jinja") else f"{name}.jinja"
    return files(__name__).joinpath(file_name).read_text()
