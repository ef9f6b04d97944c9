"""The answer reserve's arithmetic and its state machine, without an engine (reserve.py)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vllm.exceptions import VLLMValidationError
from vllm.sampling_params import SamplingParams, StructuredOutputsParams

from tests.thinking_budget.test_machine import CALL, DOT, NL, NL2, SINGLE, WORD
from vllm_nemotron.thinking_budget import ThinkingBudgetLogitsProcessor, reserve
from vllm_nemotron.thinking_budget.machine import ThinkingTrack
from vllm_nemotron.thinking_budget.params import DEFAULT_GRACE, GRAMMAR_FROM_START, BudgetParams
from vllm_nemotron.thinking_budget.reserve import (
    RESERVE_CAP,
    RESERVE_ENV,
    RESERVE_FLOOR,
    Landing,
    default_reserve,
    landing,
    parse_reserve,
    thought_cap,
    track_params,
)

END = len(SINGLE.end_sequence)


@pytest.mark.parametrize("limit,expected", [
    (1, RESERVE_FLOOR), (64, RESERVE_FLOOR), (200, RESERVE_FLOOR), (256, 64), (1000, 250),
    (4096, 1024), (8192, RESERVE_CAP), (32768, RESERVE_CAP), (262144, RESERVE_CAP),
])
def test_default_reserve_scales_with_the_limit_between_floor_and_cap(limit, expected):
    assert default_reserve(limit) == expected


def test_a_large_limit_loses_little():
    assert default_reserve(32768) / 32768 <= 0.0625


@pytest.mark.parametrize("limit,reserve_,closing,start,expected", [
    (200, 64, 3, 0, 133),
    (200, 64, 3, 1, 132),       # the model opened <think> itself: its tag is not thought
    (64, 64, 3, 0, 0),          # the limit is the reserve: close at once
    (10, 64, 3, 0, 0),          # the limit is smaller than the reserve: still 0, never negative
    (68, 64, 3, 0, 1),
])
def test_thought_cap(limit, reserve_, closing, start, expected):
    assert thought_cap(limit, reserve_, closing, start) == expected


@pytest.mark.parametrize("budget,grace,cap,expected", [
    (None, 16, None, None),                      # no budget, reserve off: nothing
    (10, 4, None, Landing(10, 4, False)),        # reserve off: the budget as today
    (10, 4, 100, Landing(10, 4, False)),         # a budget below the cap stands
    (96, 4, 100, Landing(96, 4, False)),         # ... up to budget + grace == cap
    (97, 4, 100, Landing(96, 4, True)),          # beyond: the cap is a maximum, grace inside
    (5000, 16, 100, Landing(84, 16, True)),
    (None, 16, 100, Landing(100 - DEFAULT_GRACE, DEFAULT_GRACE, True)),
    (None, 16, 5, Landing(5, 0, True)),          # cap below the grace: no grace window
    (None, 16, 0, Landing(0, 0, True)),
    (50, 0, 20, Landing(20, 0, True)),           # the client's grace 0 is kept
    (50, 30, 20, Landing(20, 0, True)),
])
def test_landing(budget, grace, cap, expected):
    assert landing(budget, grace, cap) == expected


@pytest.mark.parametrize("text,expected", [("", None), ("  ", None), ("0", 0), ("512", 512)])
def test_parse_reserve(text, expected):
    assert parse_reserve(text) == expected


@pytest.mark.parametrize("text", ["-1", "x", "1.5", str(1 << 30)])
def test_bad_environment_names_the_variable(text):
    with pytest.raises(ValueError, match=RESERVE_ENV):
        parse_reserve(text)


def test_a_bad_environment_stops_the_server_at_start(monkeypatch):
    """`register()` calls `check_environment()` in every vLLM process."""
    from vllm_nemotron.thinking_budget.effort import check_environment

    monkeypatch.setenv(RESERVE_ENV, "lots")
    reserve.server_reserve.cache_clear()
    try:
        with pytest.raises(ValueError, match=RESERVE_ENV):
            check_environment()
    finally:
        reserve.server_reserve.cache_clear()


def params(max_tokens=200, structured=False, **extra):
    return SamplingParams(max_tokens=max_tokens, extra_args=extra or None,
                          structured_outputs=StructuredOutputsParams(json_object=True)
                          if structured else None)


def test_track_params_on_by_default(answer_reserve_built_in):
    assert track_params(params()) == BudgetParams(None, max_tokens=200, reserve=RESERVE_FLOOR)
    assert track_params(params(thinking_budget=8)) == BudgetParams(8, max_tokens=200,
                                                                   reserve=RESERVE_FLOOR)
    assert track_params(params(structured=True)).structured
    # NeMo's "no budget" is not the reserve's opt-out
    assert track_params(params(thinking_budget=-1)).reserve == RESERVE_FLOOR
    # vLLM's native budget cuts the thought itself (offline requests): no reserve beside it
    assert track_params(SamplingParams(max_tokens=200, thinking_token_budget=5)) is None


def test_request_override_and_opt_out(answer_reserve_built_in):
    assert track_params(params(answer_reserve=10)).reserve == 10
    assert track_params(params(answer_reserve=0)) is None
    assert track_params(params(answer_reserve=0, thinking_budget=8)) == BudgetParams(8)


def test_no_reserve_where_the_grammar_owns_every_token(answer_reserve_built_in):
    """The reasoning parser marks a request whose grammar covers the whole output (issue 24,
    fault 1): there is no thought to close, and forcing one into the grammar fails the request."""
    marked = {GRAMMAR_FROM_START: True}
    assert track_params(params(structured=True, **marked)) is None
    assert track_params(params(structured=True, thinking_budget=8, **marked)) is None


def test_server_default_from_the_environment(monkeypatch):
    monkeypatch.setenv(RESERVE_ENV, "30")
    reserve.server_reserve.cache_clear()
    try:
        assert track_params(params()).reserve == 30
        assert track_params(params(answer_reserve=5)).reserve == 5
        monkeypatch.setenv(RESERVE_ENV, "0")
        reserve.server_reserve.cache_clear()
        assert track_params(params()) is None
    finally:
        reserve.server_reserve.cache_clear()


@pytest.mark.parametrize("value", [-1, 1.5, "64", True, 1 << 30])
def test_bad_request_value_names_the_field(answer_reserve_built_in, value):
    with pytest.raises(VLLMValidationError) as err:
        ThinkingBudgetLogitsProcessor.validate_params(params(answer_reserve=value))
    assert err.value.parameter == "answer_reserve"
    # checked in the API server too, where vLLM may not have filled max_tokens yet
    with pytest.raises(VLLMValidationError):
        ThinkingBudgetLogitsProcessor.validate_params(
            SamplingParams(extra_args={"answer_reserve": value}))


def run(track, model_says, length, forced_at=None):
    """Decode until `length` tokens (max_tokens): the model's tokens unless the track forces;
    the positions it forced go into `forced_at`."""
    model = itertools.chain(model_says, itertools.repeat(WORD))
    out: list[int] = []
    while len(out) < length:
        forced = track.forced_token(out)
        if forced is not None and forced_at is not None:
            forced_at.append(len(out))
        out.append(forced if forced is not None else next(model))
    return out


def track(limit, reserve_, budget=None, grace=DEFAULT_GRACE, opened=True, structured=False):
    return ThinkingTrack(SINGLE, BudgetParams(budget, grace, structured, limit, reserve_), opened)


@pytest.mark.parametrize("limit,reserve_,budget,grace,opened,expected_close", [
    # no line break: the thought runs to the cap (limit - reserve - end sequence)
    (40, 10, None, 0, True, 40 - 10 - END),
    (40, 10, None, 16, True, 40 - 10 - END),
    # the model opened <think> itself (output position 0): one token less of thought
    (40, 10, None, 16, False, 40 - 10 - END),
    # the limit is smaller than the reserve: closed at once
    (8, 64, None, 16, True, 0),
    # the request's own budget is below the cap: it decides, as with the reserve off
    (40, 10, 5, 2, True, 7),
    # its own budget is above the cap: the cap decides
    (40, 10, 5000, 2, True, 40 - 10 - END),
])
def test_thought_closes_before_the_reserve(limit, reserve_, budget, grace, opened, expected_close):
    """`expected_close`: the output position where the forced end sequence starts."""
    prefix = [] if opened else [1]
    out = run(track(limit, reserve_, budget, grace, opened), prefix, limit)
    start = len(prefix)
    assert out[expected_close:expected_close + END] == list(SINGLE.end_sequence)
    assert all(t == WORD for t in out[start:expected_close])
    assert len(out) - (expected_close + END) >= min(reserve_, limit - END)


def test_the_line_may_end_in_the_grace_before_the_cap():
    # cap = 40 - 10 - 3 = 27, grace 16: a line end at position 15 (inside 11..27) lands there
    model = [WORD] * 15 + [DOT]
    out = run(track(40, 10, None, 16), model, 40)
    assert out[:19] == model + list(SINGLE.end_sequence)


def test_structured_answer_gets_the_short_close():
    out = run(track(40, 10, None, 0, structured=True), [], 40)
    cap = 40 - 10 - len(SINGLE.closing_sequence)
    assert out[cap:cap + 2] == list(SINGLE.closing_sequence)
    assert out[cap + 2:] == [WORD] * (40 - cap - 2)


@pytest.mark.parametrize("model", [
    [WORD] * 5 + [2] + [WORD] * 50,       # the thought ends on its own before the cap
    [WORD] * 5 + [CALL] + [WORD] * 50,    # ... by opening a tool call
    [WORD] * 50,                          # thinking off (the prompt closed it; not opened)
])
def test_untouched_when_the_thought_ends_in_time_or_never_opens(model):
    opened = model.count(WORD) != 50
    out = run(track(40, 10, None, 16, opened=opened), model, 40)
    assert out == model[:40]


@settings(max_examples=300, deadline=None)
@given(model=st.lists(st.sampled_from([WORD, 6, NL, DOT, 1, 2, NL2, CALL]), max_size=60),
       limit=st.integers(1, 60), reserve_=st.integers(1, 40),
       budget=st.one_of(st.none(), st.integers(0, 50)), grace=st.integers(0, 8),
       opened=st.booleans())
def test_reserve_law(model, limit, reserve_, budget, grace, opened):
    """Where the track closes a thought, the answer keeps at least the reserve, or all that the
    limit leaves once the end sequence is written; a budget alone never forces later."""
    forced_at: list[int] = []
    out = run(track(limit, reserve_, budget, grace, opened), model, limit, forced_at)
    if not forced_at:
        return
    think_start = 0 if opened else 1
    assert limit - (forced_at[-1] + 1) >= min(reserve_, max(0, limit - END - think_start))
    if budget is not None:
        assert forced_at[0] <= think_start + budget + grace
    assert forced_at == list(range(forced_at[0], forced_at[-1] + 1))
    assert out[forced_at[-1] - len(forced_at) + 1:forced_at[-1] + 1] == list(
        SINGLE.end_sequence)[END - len(forced_at):] or forced_at[-1] == limit - 1


def test_the_closing_is_logged_once_per_request_at_debug_level():
    import logging

    from vllm_nemotron.thinking_budget import machine

    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    old_level = machine.logger.level
    machine.logger.addHandler(handler)
    machine.logger.setLevel(logging.DEBUG)
    try:
        run(track(40, 10, None, 0), [], 40)                # closed by the reserve
        run(track(40, 10, 5, 0), [], 40)                   # closed by its own budget
        run(track(40, 10, None, 0), [WORD, 2], 40)         # closed itself: nothing to say
    finally:
        machine.logger.removeHandler(handler)
        machine.logger.setLevel(old_level)
    messages = [r.getMessage() for r in records]
    assert len(messages) == 2, messages
    assert "after 27 tokens, by the answer reserve" in messages[0]
    assert "after 5 tokens, by its budget" in messages[1]
