"""Thinking budget: a per-request cap on reasoning tokens, enforced in one pass on the server.

Entry point `vllm.logits_processors` -> `ThinkingBudgetLogitsProcessor`; also loadable with
`--logits-processors vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor`.

    params.py      the request's options (`vllm_xargs`), validated in the API server
    markers.py     the served tokenizer's tags and forced end sequences
    machine.py     one request's state machine (pure: output token ids in, forced token out)
    forcing.py     asks every budgeted row, then forces the batch in one write
    v1.py, v2.py   adapters for vLLM's two model runners; processor.py picks one
    runners.py     what a runner will do with the processor (the load-time warning)
"""

from vllm_nemotron.thinking_budget.processor import ThinkingBudgetLogitsProcessor
from vllm_nemotron.thinking_budget.runners import warn_if_dropped

__all__ = ["ThinkingBudgetLogitsProcessor", "warn_if_dropped"]
