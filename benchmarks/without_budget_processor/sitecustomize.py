"""On PYTHONPATH, vLLM starts as if vllm-nemotron's thinking-budget processor were not installed.

`bench_thinking_budget.py` uses it for its baseline engine: every Python process started with it
imports this first and sees no `vllm.logits_processors` entry point from vllm-nemotron; the rest
of the plugin (model classes, parsers) stays registered, so the baseline runs the same model with
the same code, minus the processor.
"""

import importlib.metadata as metadata

_entry_points = metadata.entry_points


def _without_ours(**params):
    found = _entry_points(**params)
    if params.get("group") != "vllm.logits_processors":
        return found
    return metadata.EntryPoints(ep for ep in found if not ep.value.startswith("vllm_nemotron."))


metadata.entry_points = _without_ours
