"""The answer reserve: close a thought early enough that the answer still fits in `max_tokens`.

A reasoning request whose thought runs into its token limit comes back with no answer
(`content: null`, `finish_reason: "length"`). So every thinking request gets a cap besides its
own budget: the thought must be closed by the time `reserve` tokens (plus the closing sequence)
are left before the request's limit. The limit is `SamplingParams.max_tokens` as the engine
sees it: what vLLM made of `max_tokens`, `max_completion_tokens`, `max_output_tokens`, or of
the context left when the client gave none.

The reserve, first match wins:
1. `vllm_xargs.answer_reserve` (tokens; 0 turns the reserve off for the request);
2. `VLLM_NEMOTRON_ANSWER_RESERVE` on the server (tokens; 0 turns it off by default);
3. a quarter of the limit, at least `RESERVE_FLOOR` and at most `RESERVE_CAP` tokens.

The landing is the one budgets have: the model may finish its line in the last `grace` tokens
before the cap, then the end of thinking is forced (grammar-safe, see machine.py). Where the
request's own budget (with its grace) already ends the thought before the cap, nothing changes.
Reasons and sources for the default: docs/answer-reserve.md.
"""

from __future__ import annotations

import dataclasses
import os
from functools import cache
from typing import Any, NamedTuple

from vllm.sampling_params import SamplingParams

from vllm_nemotron.thinking_budget.params import (
    DEFAULT_GRACE,
    GRAMMAR_FROM_START,
    MAX_BUDGET,
    BudgetParams,
    budget_params,
    checked_int,
    env_tokens,
)

RESERVE_KEY = "answer_reserve"
RESERVE_ENV = "VLLM_NEMOTRON_ANSWER_RESERVE"

# default reserve = limit / RESERVE_SHARE, clamped to [RESERVE_FLOOR, RESERVE_CAP]
RESERVE_SHARE = 4
RESERVE_FLOOR = 64
RESERVE_CAP = 2048


def default_reserve(max_tokens: int) -> int:
    """The built-in reserve for a request limited to `max_tokens` output tokens."""
    return min(RESERVE_CAP, max(RESERVE_FLOOR, max_tokens // RESERVE_SHARE))


def parse_reserve(text: str) -> int | None:
    """A `VLLM_NEMOTRON_ANSWER_RESERVE` value: None (empty: the built-in rule) or tokens."""
    text = text.strip()
    if not text:
        return None
    return env_tokens(RESERVE_ENV, text, "an answer reserve (0: off)",
                      ", or empty for the built-in rule")


@cache
def server_reserve() -> int | None:
    """The operator's fixed reserve, or None for the built-in rule (read once per process)."""
    return parse_reserve(os.environ.get(RESERVE_ENV, ""))


def request_reserve(extra: dict[str, Any], max_tokens: int | None) -> int:
    """The request's reserve in tokens (0: off). A bad `vllm_xargs.answer_reserve` is a 400
    naming it; without a limit (validation in the API server) only the value is checked."""
    if extra.get(RESERVE_KEY) is not None:
        return checked_int(RESERVE_KEY, extra[RESERVE_KEY], MAX_BUDGET)
    fixed = server_reserve()
    if fixed is not None:
        return fixed
    return 0 if max_tokens is None else default_reserve(max_tokens)


def thought_cap(max_tokens: int, reserve: int, closing: int, think_start: int) -> int:
    """The most thinking tokens (counted from `think_start`, the output position where the
    thought began) that leave `closing` tokens to close it and `reserve` for the answer; 0 when
    the limit is too small for even that (the thought is closed at once)."""
    return max(0, max_tokens - reserve - closing - think_start)


class Landing(NamedTuple):
    """Where a thought is closed: after `budget` tokens, plus up to `grace` to end its line."""

    budget: int
    grace: int
    by_reserve: bool  # the reserve's cap decided, not the request's own budget


def landing(budget: int | None, grace: int, cap: int | None) -> Landing | None:
    """The landing of a thought with the request's own budget (None: none) and the reserve's
    cap (None: reserve off). The own budget stands when it ends the thought within the cap,
    grace included; else the cap is a maximum, and the grace comes out of it (as for vLLM's
    `thinking_token_budget`)."""
    if cap is None:
        return None if budget is None else Landing(budget, grace, False)
    if budget is not None and budget + grace <= cap:
        return Landing(budget, grace, False)
    grace = min(DEFAULT_GRACE if budget is None else grace, cap)
    if grace == cap:  # too short a thought for a grace window: think up to the cap
        return Landing(cap, 0, True)
    return Landing(cap - grace, grace, True)


def track_params(sampling_params: SamplingParams) -> BudgetParams | None:
    """What the processor enforces for a request: its own budget (`budget_params`) and the
    answer reserve, or None when neither applies. The reserve stays off where vLLM's own
    `thinking_token_budget` is in force (offline requests that set it: vLLM cuts there)."""
    own = budget_params(sampling_params)
    extra = sampling_params.extra_args or {}
    max_tokens = sampling_params.max_tokens
    reserve = request_reserve(extra, max_tokens)
    if extra.get(GRAMMAR_FROM_START) is True:  # the grammar owns every token: nothing forced
        return None
    if (not reserve or max_tokens is None
            or getattr(sampling_params, "thinking_token_budget", None) is not None):
        return own
    if own is None:
        own = BudgetParams(None, structured=sampling_params.structured_outputs is not None)
    return dataclasses.replace(own, max_tokens=max_tokens, reserve=reserve)
