"""Per-request thinking-budget options, read from `SamplingParams.extra_args`.

Clients send them as
`extra_body={"vllm_xargs": {"thinking_budget": N, "thinking_budget_grace": G}}`.
Validation runs in the API server (via the processor's `validate_params`), so a bad value is an
HTTP 400 that names the parameter, before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm.exceptions import VLLMValidationError
from vllm.sampling_params import SamplingParams

BUDGET_KEY = "thinking_budget"
GRACE_KEY = "thinking_budget_grace"

# After the budget is spent the model may finish its sentence or line within this many tokens.
DEFAULT_GRACE = 16
# Larger values are certainly mistakes (no context window is this long).
MAX_BUDGET = 1 << 24
MAX_GRACE = 4096


@dataclass(frozen=True)
class BudgetParams:
    """A request's reasoning-token budget, its grace to finish the line, and whether a grammar
    constrains its answer (then nothing may be forced after `</think>`)."""

    budget: int
    grace: int = DEFAULT_GRACE
    structured: bool = False


def _checked_int(name: str, value: object, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VLLMValidationError(
            f"{name} must be an integer between 0 and {limit}, got {value!r}",
            parameter=name, value=value)
    if not 0 <= value <= limit:
        raise VLLMValidationError(
            f"{name} must be between 0 and {limit}, got {value}", parameter=name, value=value)
    return value


def budget_params(sampling_params: SamplingParams) -> BudgetParams | None:
    """The request's budget, or None when it asks for none; raises on invalid values."""
    extra = sampling_params.extra_args or {}
    if BUDGET_KEY not in extra:
        if GRACE_KEY in extra:
            raise VLLMValidationError(
                f"{GRACE_KEY} needs {BUDGET_KEY}: set a thinking budget as well",
                parameter=GRACE_KEY, value=extra[GRACE_KEY])
        return None
    budget = _checked_int(BUDGET_KEY, extra[BUDGET_KEY], MAX_BUDGET)
    grace = _checked_int(GRACE_KEY, extra.get(GRACE_KEY, DEFAULT_GRACE), MAX_GRACE)
    if getattr(sampling_params, "thinking_token_budget", None) is not None:
        raise VLLMValidationError(
            f"{BUDGET_KEY} and vLLM's native thinking_token_budget cannot be combined; "
            "use one of them", parameter=BUDGET_KEY, value=extra[BUDGET_KEY])
    return BudgetParams(budget, grace, sampling_params.structured_outputs is not None)
