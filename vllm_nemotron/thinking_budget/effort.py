"""Every thinking knob a client may send, turned into one budget per request, in one place.

Clients ask for less or more thinking in many dialects: OpenAI's `reasoning_effort` (chat) and
`reasoning.effort` (Responses), Anthropic's `thinking` and `output_config.effort` (vLLM turns a
`/v1/messages` request into a chat request), NVIDIA's NIM `nvext.max_thinking_tokens`, the
fields NVIDIA's guides send (`max_thinking_tokens`, `reasoning_budget`), vLLM's own
`thinking_token_budget`, and ours. vLLM calls the reasoning parser's `adjust_request` in the
API server for every such request when `--reasoning-parser` is set; our parsers call
`apply_thinking_knobs` there. It writes the request's budget into
`vllm_xargs["thinking_budget"]`, where the thinking-budget processor reads it, and clears vLLM's
native `thinking_token_budget`, so every budget lands the same way: the model may finish its
line, then the end of thinking is forced in a grammar-safe way. (vLLM's native budget cuts the
thought mid-word and, counting through a tool call opened straight from the thought, can force
`</think>` inside the call.) vLLM and Anthropic define their budget as a maximum, so for
`thinking_token_budget` (and `thinking.budget_tokens`) the grace comes out of the budget
(`within`); NVIDIA's fields and ours are a budget plus the grace, as NIM's extension window and
NeMo's grace period are. Sources: docs/thinking-knobs.md.

A request's budget, first match wins:
1. a number the client gave, in the order of `CLIENT_BUDGETS`: `vllm_xargs.thinking_budget`
   (ours, and NeMo's processor's; -1 means no budget), `thinking_token_budget` (vLLM's;
   Anthropic's `thinking.budget_tokens` arrives here), `nvext.max_thinking_tokens` (NIM),
   `max_thinking_tokens`, `reasoning_budget`, `chat_template_kwargs.reasoning_budget` (NVIDIA's
   guides); each is checked (a bad value is a 400 naming it) even when another one wins;
2. thinking is off (`enable_thinking: false`, or effort "none"): no budget, as vLLM does now;
3. the effort, through the mapping (`VLLM_NEMOTRON_EFFORT_BUDGETS`); "unlimited" sets none;
4. the operator's default budget (`VLLM_NEMOTRON_DEFAULT_THINKING_BUDGET`), if set.

The effort also reaches the prompt: "minimal" and "low" set the chat-template kwarg
`low_effort` (Nemotron-3-Super's template reads it) unless the request or the server set it
(`template_kwargs`, called by our renderer, since vLLM renders the template before any parser
sees the request). Knobs that cannot be honoured (`min_thinking_tokens`, NeMo's
`end_token_ids`) are ignored with a warning: they refine a budget, and the request is served
within every limit it set.

Both variables are read once per process and checked by `check_environment()`, which
`vllm_nemotron.register()` calls when vLLM starts, so a bad value stops the server at once
with a message naming the variable. docs/thinking-knobs.md's effort table gives the sources
of the default budgets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from vllm.exceptions import VLLMValidationError
from vllm.logger import init_logger

from vllm_nemotron.thinking_budget.params import (
    BUDGET_KEY,
    DEFAULT_GRACE,
    GRACE_KEY,
    MAX_BUDGET,
    MAX_GRACE,
    check_xargs,
    checked_int,
    env_tokens,
    grace_key,
    is_no_budget,
)
from vllm_nemotron.thinking_budget.reserve import request_reserve, server_reserve

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

# Efforts that set the chat-template kwarg `low_effort`: Nemotron-3-Super's low-effort mode was
# trained on traces of GPT-OSS-120B's "low" reasoning effort; "minimal" asks for less still.
LOW_EFFORTS = frozenset({"minimal", "low"})
LOW_EFFORT_KWARG = "low_effort"


def _extra(request: Any) -> dict[str, Any]:
    """Fields vLLM's request model did not declare (it keeps them: `extra="allow"`)."""
    return getattr(request, "model_extra", None) or {}


def _nvext(request: Any) -> dict[str, Any]:
    nvext = _extra(request).get("nvext")
    if nvext is None:
        return {}
    if not isinstance(nvext, dict):
        raise VLLMValidationError(f"nvext must be an object, got {nvext!r}",
                                  parameter="nvext", value=nvext)
    return nvext


def _kwargs(request: Any) -> dict[str, Any]:
    return getattr(request, "chat_template_kwargs", None) or {}


def _xargs(request: Any) -> dict[str, Any]:
    return getattr(request, "vllm_xargs", None) or {}


# Where a client may put its own thinking budget, in the order they win: name (as the client
# writes it, for errors and logs) -> how to read it off a vLLM request (None when absent).
XARGS_BUDGET = f"vllm_xargs.{BUDGET_KEY}"
NATIVE_BUDGET = "thinking_token_budget"
CLIENT_BUDGETS: dict[str, Callable[[Any], Any]] = {
    # ours; NeMo's ThinkingBudgetLogitsProcessor reads the same key (-1: no budget)
    XARGS_BUDGET: lambda r: _xargs(r).get(BUDGET_KEY),
    # vLLM's native field; Anthropic's thinking.budget_tokens becomes this. A maximum, as both
    # define it: the grace is taken from inside it (`within`)
    NATIVE_BUDGET: lambda r: getattr(r, NATIVE_BUDGET, None),
    # NIM's thinking budget control
    "nvext.max_thinking_tokens": lambda r: _nvext(r).get("max_thinking_tokens"),
    # NVIDIA's RAG blueprint, "Enable Reasoning" (Nemotron-3-Nano-30B, Nano-9B-v2)
    "max_thinking_tokens": lambda r: _extra(r).get("max_thinking_tokens"),
    # build.nvidia.com's field: Nemotron-3-Super getting-started guide, RAG blueprint
    "reasoning_budget": lambda r: _extra(r).get("reasoning_budget"),
    # RAG blueprint (Nemotron 3), Nemotron-3-Nano-Omni agent cookbook; templates may read it too
    "chat_template_kwargs.reasoning_budget": lambda r: _kwargs(r).get("reasoning_budget"),
}

# Knobs NVIDIA's guides send that the budget cannot honour: name -> how to read it.
IGNORED_KNOBS: dict[str, Callable[[Any], Any]] = {
    "min_thinking_tokens": lambda r: _extra(r).get("min_thinking_tokens"),
    "nvext.min_thinking_tokens": lambda r: _nvext(r).get("min_thinking_tokens"),
    "vllm_xargs.end_token_ids": lambda r: _xargs(r).get("end_token_ids"),
}

Request = TypeVar("Request")


def _budget(variable: str, text: str, allowed: str = "") -> int:
    """A budget written in an environment variable (an integer in 0..MAX_BUDGET)."""
    return env_tokens(variable, text, "a thinking budget", allowed)


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
    """Read and check the knobs' variables now; raises ValueError naming a bad one."""
    effort_budgets()
    default_budget()
    server_reserve()


def requested_effort(request: Any) -> str | None:
    """`reasoning_effort` of a chat request, or `reasoning.effort` of a Responses request."""
    effort = getattr(request, "reasoning_effort", None)
    if effort is None:
        effort = getattr(getattr(request, "reasoning", None), "effort", None)
    return effort if isinstance(effort, str) else None


def thinking_off(kwargs: dict[str, Any], effort: str | None) -> bool:
    """Whether the chat template is told not to think, as vLLM 0.32 decides it: by the
    `enable_thinking` kwarg if given, else by effort "none"."""
    if "enable_thinking" in kwargs:
        return kwargs["enable_thinking"] is False
    return effort == "none"


def client_budget(request: Any) -> tuple[str, int | None] | None:
    """The winning budget the client sent itself, as (knob name, budget; None for -1), or None
    when it sent none. Every knob present is checked; a bad one is a 400 naming it."""
    found: list[tuple[str, int | None]] = []
    for name, read in CLIENT_BUDGETS.items():
        value = read(request)
        if value is None:
            continue
        if name == XARGS_BUDGET:  # the processor checks it, with or without a parser
            found.append((name, None if is_no_budget(value) else value))
        else:
            found.append((name, checked_int(name, value, MAX_BUDGET)))
    return found[0] if found else None


def request_budget(request: Any) -> tuple[str, int | None]:
    """(what decided, the thinking budget) for this request; see the module docstring."""
    chosen = client_budget(request)
    if chosen is not None:
        return chosen
    effort = requested_effort(request)
    if thinking_off(_kwargs(request), effort):
        return "thinking off", None
    budgets = effort_budgets()
    if effort in budgets:
        return f"effort {effort!r}", budgets[effort]
    return "server default", default_budget()


def within(ceiling: int, xargs: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(budget, xargs with the grace) that keep a thought within `ceiling` tokens: vLLM and
    Anthropic define their budget as the most a thought may use, so the grace to finish the
    line (the client's, or the default) comes out of it; the thought ends at a line break in
    its last `grace` tokens, else at the ceiling, then the end sequence closes it."""
    xargs = dict(xargs)
    name = grace_key(xargs)
    grace = min(checked_int(name, xargs.pop(name, DEFAULT_GRACE), MAX_GRACE), ceiling)
    xargs[GRACE_KEY] = grace
    return ceiling - grace, xargs


def apply_thinking_knobs(request: Request) -> Request:
    """Give the request the budget `request_budget` decides, as `vllm_xargs.thinking_budget`
    (in place, as vLLM keeps using the same request object), and return the request.

    The `vllm_xargs` the processor will read are checked here too, with its rules: this runs
    in the API server before any work starts, so a bad one is a 400 on streamed requests too.
    """
    for name, read in IGNORED_KNOBS.items():
        if read(request) is not None:
            logger.warning_once(
                "%s is ignored: vllm-nemotron's thinking budget caps thinking and ends it at "
                "a line break with its own end sequence; it has no minimum and no custom end "
                "tokens (see docs/thinking-knobs.md)", name)
    source, budget = request_budget(request)
    if getattr(request, NATIVE_BUDGET, None) is not None:
        setattr(request, NATIVE_BUDGET, None)  # ours lands it: vLLM's cut never runs beside
    if budget is not None and source != XARGS_BUDGET:
        xargs: dict[str, Any] = dict(_xargs(request))
        if source == NATIVE_BUDGET:
            budget, xargs = within(budget, xargs)
        xargs[BUDGET_KEY] = budget
        request.vllm_xargs = xargs  # type: ignore[attr-defined]
    check_xargs(_xargs(request))
    request_reserve(_xargs(request), None)  # only the value: the limit is the engine's
    return request


def template_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The chat-template kwargs, with `low_effort: true` added when the request's effort (the
    `reasoning_effort` kwarg vLLM passes to the template) is in `LOW_EFFORTS`, thinking is on,
    and neither the client nor the server's `--default-chat-template-kwargs` set `low_effort`.
    Templates that do not read `low_effort` never see it (vLLM drops kwargs a template does
    not use)."""
    effort = kwargs.get("reasoning_effort")
    # A client may put anything in its template kwargs; an effort that is not a string (e.g.
    # `[1]`) is not ours to judge: it reaches the template unchanged.
    if (LOW_EFFORT_KWARG in kwargs or not isinstance(effort, str) or effort not in LOW_EFFORTS
            or thinking_off(kwargs, effort)):
        return kwargs
    return {**kwargs, LOW_EFFORT_KWARG: True}
