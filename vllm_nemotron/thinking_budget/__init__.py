"""Thinking budget: a per-request cap on reasoning tokens, enforced in one pass on the server.

Entry point `vllm.logits_processors` -> `ThinkingBudgetLogitsProcessor`; also loadable with
`--logits-processors vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor`.
"""

from vllm_nemotron.thinking_budget.processor import ThinkingBudgetLogitsProcessor

__all__ = ["ThinkingBudgetLogitsProcessor"]
