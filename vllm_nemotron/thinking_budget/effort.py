"""OpenAI's `reasoning_effort` as a thinking budget, plus the operator's server-wide defaults.

Clients written for OpenAI's reasoning models set `reasoning_effort` (chat completions) or
`reasoning.effort` (Responses API). vLLM 0.32 turns it only into the chat-template kwarg
`enable_thinking` (off for "none"), so "low" and "high" would think exactly as long. vLLM calls
the reasoning parser's `adjust_request` in the API server for every chat and Responses request
when `--reasoning-parser` is set; our parsers call `apply_reasoning_effort` there, which writes
the budget into `vllm_xargs["thinking_budget"]`, where the thinking-budget processor reads it.

Who decides a request's budget, first match wins:
1. the client: `vllm_xargs.thinking_budget`, or vLLM's native `thinking_token_budget`;
2. thinking is off (`enable_thinking: false`, or effort "none"): no budget, as vLLM does now;
3. the effort, through the mapping (`VLLM_NEMOTRON_EFFORT_BUDGETS`); "unlimited" sets none;
4. the operator's default budget (`VLLM_NEMOTRON_DEFAULT_THINKING_BUDGET`), if set.

Both variables are read once per process and checked by `check_environment()`, which
`vllm_nemotron.register()` calls when vLLM starts, so a bad value stops the server at once
with a message naming the variable. The README's "reasoning_effort" section gives the
sources of the default budgets.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any, TypeVar

from vllm.logger import init_logger

from vllm_nemotron.thinking_budget.params import BUDGET_KEY, MAX_BUDGET

logger = init_logger(__name__)

EFFORT_BUDGETS_ENV = "VLLM_NEMOTRON_EFFORT_BUDGETS"
DEFAULT_BUDGET_ENV = "VLLM_NEMOTRON_DEFAULT_THINKING_BUDGET"
UNLIMITED = "unlimited"

# effort -> thinking budget in tokens; None lets the model think as long as it likes.
# "none" is absent on purpose: it turns thinking off, it is not a budget.
DEFAULT_EFFORT_BUDGETS: dict[str, int | None] = {
    "minimal": 32,     # the Nano-9B-v2 card's budget example (a short question)
    "low": 512,        # the Nano-9B-v2 card's ThinkingBudgetClient default
    "medium": 16384,   # Nemotron-3-Nano-Omni card: thinking-mode reasoning_budget
    "high": None,      # OpenAI's most thorough effort: no cap but max_tokens
    "xhigh": None,     # vLLM 0.32 also accepts these two
    "max": None,
}

Request = TypeVar("Request")


def _budget(variable: str, text: str, allowed: str = "") -> int:
    """A budget written in an environment variable (an integer in 0..MAX_BUDGET)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_BUDGET:
        raise ValueError(f"{variable}: a thinking budget must be an integer between 0 and "
                         f"{MAX_BUDGET}{allowed}, got {text!r}")
    return value


def parse_effort_budgets(text: str) -> dict[str, int | None]:
    """The mapping for a `VLLM_NEMOTRON_EFFORT_BUDGETS` value such as "low=256,high=4096".

    Efforts it names replace the defaults; the others keep them.
    """
    budgets = dict(DEFAULT_EFFORT_BUDGETS)
    seen: set[str] = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        effort, sep, value = (s.strip() for s in item.partition("="))
        if effort == "none":
            raise ValueError(f"{EFFORT_BUDGETS_ENV}: bad entry {item!r}: effort 'none' turns "
                             "thinking off and takes no budget")
        if not sep or effort not in DEFAULT_EFFORT_BUDGETS:
            raise ValueError(f"{EFFORT_BUDGETS_ENV}: bad entry {item!r}: expected "
                             f"effort=budget, effort one of {', '.join(DEFAULT_EFFORT_BUDGETS)}")
        if effort in seen:
            raise ValueError(f"{EFFORT_BUDGETS_ENV}: effort {effort!r} is given twice")
        seen.add(effort)
        budgets[effort] = (None if value == UNLIMITED else
                           _budget(EFFORT_BUDGETS_ENV, value, f" or '{UNLIMITED}'"))
    return budgets


@cache
def effort_budgets() -> dict[str, int | None]:
    """The server's effort -> budget mapping (read once per process)."""
    text = os.environ.get(EFFORT_BUDGETS_ENV, "")
    budgets = parse_effort_budgets(text)
    if text.strip():
        logger.info("reasoning_effort -> thinking budget (%s): %s", EFFORT_BUDGETS_ENV, budgets)
    return budgets


@cache
def default_budget() -> int | None:
    """The budget for thinking requests that ask for none (read once per process)."""
    text = os.environ.get(DEFAULT_BUDGET_ENV, "").strip()
    return _budget(DEFAULT_BUDGET_ENV, text) if text else None


def check_environment() -> None:
    """Read and check both variables now; raises ValueError naming a bad one."""
    effort_budgets()
    default_budget()


def requested_effort(request: Any) -> str | None:
    """`reasoning_effort` of a chat request, or `reasoning.effort` of a Responses request."""
    effort = getattr(request, "reasoning_effort", None)
    if effort is None:
        effort = getattr(getattr(request, "reasoning", None), "effort", None)
    return effort if isinstance(effort, str) else None


def thinking_off(request: Any, effort: str | None) -> bool:
    """Whether the chat template is told not to think, as vLLM 0.32 decides it: by the
    request's `enable_thinking` kwarg if given, else by effort "none"."""
    kwargs = getattr(request, "chat_template_kwargs", None) or {}
    if "enable_thinking" in kwargs:
        return kwargs["enable_thinking"] is False
    return effort == "none"


def budget_for(request: Any) -> int | None:
    """The thinking budget this request gets from its effort or the server default."""
    xargs = getattr(request, "vllm_xargs", None) or {}
    if BUDGET_KEY in xargs or getattr(request, "thinking_token_budget", None) is not None:
        return None  # the client chose (the processor checks its value)
    effort = requested_effort(request)
    if thinking_off(request, effort):
        return None
    budgets = effort_budgets()
    if effort in budgets:
        return budgets[effort]
    return default_budget()


def apply_reasoning_effort(request: Request) -> Request:
    """Put the budget from `budget_for` into the request's `vllm_xargs` (in place, as vLLM
    keeps using the same request object), and return the request."""
    budget = budget_for(request)
    if budget is not None:
        xargs: dict[str, Any] = dict(getattr(request, "vllm_xargs", None) or {})
        xargs[BUDGET_KEY] = budget
        request.vllm_xargs = xargs  # type: ignore[attr-defined]
    return request
