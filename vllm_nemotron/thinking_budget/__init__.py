"""Thinking budget: a per-request cap on reasoning tokens, enforced in one pass on the server,
and the answer reserve that keeps room for the answer in every thinking request.

Entry point `vllm.logits_processors` -> `ThinkingBudgetLogitsProcessor`; also loadable with
`--logits-processors vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor`.

    params.py      the request's options (`vllm_xargs`), validated in the API server
    markers.py     the served tokenizer's tags and forced end sequences
    machine.py     one request's state machine (pure: output token ids in, forced token out)
    reserve.py     the answer reserve: every thought closes in time for an answer before
                   max_tokens (docs/answer-reserve.md)
    forcing.py     asks every budgeted row, then forces the batch in one write
    v1.py, v2.py   adapters for vLLM's two model runners; processor.py picks one
    runners.py     what a runner will do with the processor (the load-time warning)
    effort.py      every knob a client may send (effort, NIM, Anthropic, NVIDIA's guides,
                   vLLM's, ours) and the server's defaults, as one budget per request
    renderer.py    vLLM's HF renderer plus the template kwargs an effort implies (low_effort)
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module; imported on first use, so `register()` (which reads effort.py in every vLLM
# process) loads no model-runner or torch code.
_LAZY = {
    "ThinkingBudgetLogitsProcessor": "vllm_nemotron.thinking_budget.processor",
    "warn_if_dropped": "vllm_nemotron.thinking_budget.runners",
}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
