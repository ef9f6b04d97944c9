"""VLLM_NEMOTRON_DISABLE=1: vLLM runs as if the plugin were not installed
(docs/without-the-plugin.md).

VLLM_PLUGINS="" keeps `register()` from running, but vLLM loads every `vllm.logits_processors`
entry point whatever it says, so the budget processor needs its own switch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from vllm.sampling_params import SamplingParams

import vllm_nemotron as plugin
from vllm_nemotron.thinking_budget import ThinkingBudgetLogitsProcessor


def test_register_registers_nothing():
    code = """
import json
from vllm.plugins import load_general_plugins
load_general_plugins()
import vllm_nemotron
from vllm import ModelRegistry
from vllm.reasoning import ReasoningParserManager
from vllm.renderers.registry import RENDERER_REGISTRY
from vllm.tool_parsers import ToolParserManager
print(json.dumps({
    "registered": vllm_nemotron._registered,
    "models": [str(ModelRegistry.models.get(a)) for a in vllm_nemotron.MODEL_CLASSES],
    "tool": [n for n in vllm_nemotron.TOOL_PARSERS if n in ToolParserManager.lazy_parsers],
    "reasoning": [n for n in vllm_nemotron.REASONING_PARSERS
                  if n in ReasoningParserManager.lazy_parsers],
    "renderer": list(RENDERER_REGISTRY.renderers["hf"]),
}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, plugin.DISABLE_ENV: "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["registered"] is False
    assert not any("vllm_nemotron" in m for m in state["models"])
    assert state["tool"] == [] and state["reasoning"] == []
    assert state["renderer"][0].startswith("vllm.")


def test_the_processor_passes_everything_through(monkeypatch):
    monkeypatch.setenv(plugin.DISABLE_ENV, "yes")
    bad = SamplingParams(extra_args={"thinking_budget": "x"})
    ThinkingBudgetLogitsProcessor.validate_params(bad)  # not ours to judge now
    processor = ThinkingBudgetLogitsProcessor(SimpleNamespace(), torch.device("cpu"), False)
    logits = torch.zeros(2, 8)
    assert processor.apply(logits) is logits
    assert processor.is_argmax_invariant()  # vLLM may skip it for greedy requests
    processor.update_state(None)
    assert not processor.add_request(0, SamplingParams(extra_args={"thinking_budget": 0}))


@pytest.mark.parametrize("value,off", [("1", True), ("true", True), ("ON", True),
                                       ("0", False), ("", False), ("no", False)])
def test_values(monkeypatch, value, off):
    monkeypatch.setenv(plugin.DISABLE_ENV, value)
    assert plugin.disabled() is off


def test_a_typo_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv(plugin.DISABLE_ENV, "disable")
    with pytest.raises(ValueError, match=plugin.DISABLE_ENV):
        plugin.disabled()
