"""What can be learned about a model before it is downloaded or started.

A recipe is planned from `config.json`, the weight size and the chat template the checkpoint
ships. They are read from a local checkpoint directory, or from the local Hugging Face cache
for a hub name (never from the network: planning must work on a laptop or CI runner, and
before a long download). Anything not found stays None, and the recipe says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATE_FILE = "chat_template.jinja"
TOKENIZER_CONFIG = "tokenizer_config.json"
WEIGHTS_INDEX = "model.safetensors.index.json"


@dataclass
class Checkpoint:
    """A model name and what a local copy of it told us."""

    model: str
    location: str | None = None  # "directory" or "hub cache"; None: nothing local
    config: dict[str, Any] | None = None
    config_source: str | None = None
    weight_bytes: int | None = None
    chat_template: str | None = None
    chat_template_source: str | None = None

    @property
    def architecture(self) -> str | None:
        archs = (self.config or {}).get("architectures") or []
        return archs[0] if archs else None

    @property
    def name(self) -> str:
        """The hub id, or the directory's name (what family names are matched against)."""
        path = Path(self.model).expanduser()
        return path.resolve().name if self.location == "directory" else self.model


def hub_cache_dir() -> str:
    """The hub cache, read from the environment now (huggingface_hub reads it once, at import)."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return cache
    if home := os.environ.get("HF_HOME"):
        return os.path.join(home, "hub")
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _template_from_tokenizer_config(path: Path) -> str | None:
    """The default chat template of a tokenizer_config.json (a string, or a list of named ones)."""
    template = json.loads(path.read_text()).get("chat_template")
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    return template if isinstance(template, str) else None


def _read_template(find: Callable[[str], Path | None]) -> tuple[str | None, str | None]:
    """(template, where it was found); `find(file_name)` gives a local path or None.

    chat_template.jinja comes first: transformers prefers it to tokenizer_config.json.
    """
    if (path := find(TEMPLATE_FILE)) is not None:
        return path.read_text(), str(path)
    if (path := find(TOKENIZER_CONFIG)) is not None:
        template = _template_from_tokenizer_config(path)
        if template is not None:
            return template, str(path)
    return None, None


def _weights_from_index(path: Path) -> int | None:
    total = json.loads(path.read_text()).get("metadata", {}).get("total_size")
    return int(total) if isinstance(total, (int, float)) else None


def _from_directory(model: str, path: Path) -> Checkpoint:
    def find(file_name: str) -> Path | None:
        return path / file_name if (path / file_name).is_file() else None

    ckpt = Checkpoint(model, "directory")
    if (config := find("config.json")) is not None:
        ckpt.config, ckpt.config_source = json.loads(config.read_text()), str(config)
    ckpt.weight_bytes = sum(f.stat().st_size for f in path.glob("*.safetensors")) or None
    ckpt.chat_template, ckpt.chat_template_source = _read_template(find)
    return ckpt


def _from_hub_cache(model: str) -> Checkpoint:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return Checkpoint(model)
    cache = hub_cache_dir()

    def find(file_name: str) -> Path | None:
        try:
            found = try_to_load_from_cache(model, file_name, cache_dir=cache)
        except ValueError:  # not a valid repo id: a name the hub cannot have
            return None
        return Path(found) if isinstance(found, str) else None

    config = find("config.json")
    if config is None:
        return Checkpoint(model)
    ckpt = Checkpoint(model, "hub cache", json.loads(config.read_text()), str(config))
    if (index := find(WEIGHTS_INDEX)) is not None:
        ckpt.weight_bytes = _weights_from_index(index)
    elif (single := find("model.safetensors")) is not None:
        ckpt.weight_bytes = single.stat().st_size
    ckpt.chat_template, ckpt.chat_template_source = _read_template(find)
    return ckpt


def inspect_checkpoint(model: str) -> Checkpoint:
    """Read config.json, weight size and chat template from a directory or the local hub cache."""
    path = Path(model).expanduser()
    return _from_directory(model, path) if path.is_dir() else _from_hub_cache(model)
