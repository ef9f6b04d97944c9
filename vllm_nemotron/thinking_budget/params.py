"""Per-request thinking-budget options, read from `SamplingParams.extra_args`.

Clients send them as
`extra_body={"vllm_xargs": {"thinking_budget": N, "thinking_budget_grace": G}}`. The names of
NeMo's ThinkingBudgetLogitsProcessor (NVIDIA-NeMo/Nemotron `tools/budget`) work too: the same
`thinking_budget`, with -1 for no budget, and `thinking_budget_grace_period` for the grace.
Validation runs in the API server, so a bad value is an HTTP 400 that names the parameter,
before any work starts: the reasoning parsers' `adjust_request` calls `check_xargs` for chat
completions and the Responses API (vLLM calls the processor's `validate_params` only when the
request reaches the engine client, after a streamed response has already sent its 200).

`GRAMMAR_FROM_START` in `extra_args` is set by the reasoning parser (never by a client: it
strips the key) when vLLM constrains the output with a grammar from its first token: the
grammar then owns every output token, so nothing may be forced and the request gets no budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllm.exceptions import VLLMValidationError
from vllm.sampling_params import SamplingParams

BUDGET_KEY = "thinking_budget"
GRACE_KEY = "thinking_budget_grace"
NEMO_GRACE_KEY = "thinking_budget_grace_period"  # NeMo's processor's name for the grace
NO_BUDGET = -1  # thinking_budget -1: no budget, as in NeMo's processor and vLLM's native one

# After the budget is spent the model may finish its sentence or line within this many tokens.
DEFAULT_GRACE = 16
# Larger values are certainly mistakes (no context window is this long).
MAX_BUDGET = 1 << 24
MAX_GRACE = 4096
# Set by the reasoning parser, in the API server, when the grammar covers the whole output (the
# same name as the chat-template kwarg that tells the parsers so).
GRAMMAR_FROM_START = "vllm_nemotron_grammar_from_first_token"


@dataclass(frozen=True)
class BudgetParams:
    """A request's reasoning-token budget (None: none of its own), its grace to finish the line,
    whether a grammar constrains its answer (then nothing may be forced after `</think>`), and
    its output limit and answer reserve (reserve.py; 0: off)."""

    budget: int | None
    grace: int = DEFAULT_GRACE
    structured: bool = False
    max_tokens: int | None = None
    reserve: int = 0


def checked_int(name: str, value: object, limit: int) -> int:
    """`value` if it is an integer in 0..limit, else a 400 naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise VLLMValidationError(
            f"{name} must be an integer between 0 and {limit}, got {value!r}",
            parameter=name, value=value)
    if not 0 <= value <= limit:
        raise VLLMValidationError(
            f"{name} must be between 0 and {limit}, got {value}", parameter=name, value=value)
    return value


def env_tokens(variable: str, text: str, what: str, allowed: str = "") -> int:
    """A token count written in an environment variable (an integer in 0..MAX_BUDGET); else a
    ValueError naming the variable, `what` it holds and what else it `allowed`."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_BUDGET:
        raise ValueError(f"{variable}: {what} must be an integer between 0 and "
                         f"{MAX_BUDGET}{allowed}, got {text!r}")
    return value


def is_no_budget(value: object) -> bool:
    """Whether a `thinking_budget` value is the explicit "no budget" (-1)."""
    return type(value) is int and value == NO_BUDGET


def grace_key(extra: dict) -> str:
    """The name the request gives its grace under (ours unless it used NeMo's)."""
    if GRACE_KEY in extra and NEMO_GRACE_KEY in extra:
        raise VLLMValidationError(
            f"{GRACE_KEY} and {NEMO_GRACE_KEY} are two names for the same grace; give one",
            parameter=NEMO_GRACE_KEY, value=extra[NEMO_GRACE_KEY])
    return NEMO_GRACE_KEY if NEMO_GRACE_KEY in extra else GRACE_KEY


def check_xargs(extra: dict) -> tuple[int, int] | None:
    """(budget, grace) that these `vllm_xargs` ask for, or None for no budget; raises a
    `VLLMValidationError` naming the first invalid option."""
    grace_name = grace_key(extra)
    if BUDGET_KEY not in extra:
        if grace_name in extra:
            raise VLLMValidationError(
                f"{grace_name} needs {BUDGET_KEY}: set a thinking budget as well",
                parameter=grace_name, value=extra[grace_name])
        return None
    if is_no_budget(extra[BUDGET_KEY]):
        return None
    budget = checked_int(BUDGET_KEY, extra[BUDGET_KEY], MAX_BUDGET)
    return budget, checked_int(grace_name, extra.get(grace_name, DEFAULT_GRACE), MAX_GRACE)


def budget_params(sampling_params: SamplingParams) -> BudgetParams | None:
    """The request's budget, or None when it asks for none or the grammar covers its whole
    output; raises on invalid values."""
    extra = sampling_params.extra_args or {}
    checked = check_xargs(extra)
    if checked is None or extra.get(GRAMMAR_FROM_START) is True:
        return None
    budget, grace = checked
    if getattr(sampling_params, "thinking_token_budget", None) is not None:
        raise VLLMValidationError(
            f"{BUDGET_KEY} and vLLM's native thinking_token_budget cannot be combined; "
            "use one of them", parameter=BUDGET_KEY, value=extra[BUDGET_KEY])
    return BudgetParams(budget, grace, sampling_params.structured_outputs is not None)
