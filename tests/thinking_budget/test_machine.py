"""The thinking-budget state machine on hand-written token sequences (no vLLM engine)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_nemotron.thinking_budget.machine import UNKNOWN, ThinkingTrack
from vllm_nemotron.thinking_budget.markers import (
    ThinkingMarkers,
    prompt_opens_thinking,
    prompt_thinking,
)
from vllm_nemotron.thinking_budget.params import BudgetParams

NL, DOT, WORD, NL2, CALL = 10, 12, 5, 11, 30
# `<think>`/`</think>`/`<TOOLCALL>` as single tokens; the end sequence is "\n", "</think>", "\n\n"
SINGLE = ThinkingMarkers(start=(1,), close=(2,), end_sequence=(NL, 2, NL2),
                         boundaries=frozenset({NL, DOT, NL2}), closing_sequence=(NL, 2),
                         tool_starts=((CALL,),))
# the tags split into three tokens each, as a tokenizer without special tags would
MULTI = ThinkingMarkers(start=(20, 21, 22), close=(23, 21, 22), end_sequence=(NL, 23, 21, 22, NL2),
                        boundaries=frozenset({NL, DOT, NL2}), closing_sequence=(NL, 23, 21, 22),
                        tool_starts=((24, 25, 22),))


def generate(markers, budget, grace, model_says, *, opened=True, length=30, structured=False):
    """Decode `length` tokens: the model says `model_says` unless the track forces a token."""
    track = ThinkingTrack(markers, BudgetParams(budget, grace, structured), opened)
    model = itertools.chain(model_says, itertools.repeat(WORD))
    out: list[int] = []
    while len(out) < length:
        forced = track.forced_token(out)
        out.append(forced if forced is not None else next(model))
    return out


W = [WORD]
CASES = [
    # (name, markers, budget, grace, model output, opened in prompt, expected start of the output)
    ("budget 0 closes at once", SINGLE, 0, 16, [], True, [NL, 2, NL2, WORD]),
    ("budget 1, no grace", SINGLE, 1, 0, [], True, W + [NL, 2, NL2, WORD]),
    ("last budget token ends a line: no grace", SINGLE, 3, 8, [WORD, WORD, DOT], True,
     [WORD, WORD, DOT, NL, 2, NL2, WORD]),
    ("exact boundary: budget then force", SINGLE, 3, 0, [], True, W * 3 + [NL, 2, NL2, WORD]),
    ("grace ends at a sentence end", SINGLE, 3, 5, W * 4 + [DOT], True,
     W * 4 + [DOT, NL, 2, NL2, WORD]),
    ("grace runs out", SINGLE, 3, 2, [], True, W * 5 + [NL, 2, NL2, WORD]),
    ("grace ends at a newline: the end sequence goes on from it", SINGLE, 2, 4, W * 3 + [NL], True,
     W * 3 + [NL, 2, NL2, WORD]),
    ("multi-token end sequence", MULTI, 2, 0, [], True, W * 2 + [NL, 23, 21, 22, NL2, WORD]),
    ("model opens thinking itself", SINGLE, 2, 0, [1], False, [1] + W * 2 + [NL, 2, NL2, WORD]),
    ("model opens split <think>", MULTI, 1, 0, [20, 21, 22], False,
     [20, 21, 22, WORD, NL, 23, 21, 22, NL2, WORD]),
]

# A grammar constrains the answer: nothing is forced after `</think>`.
STRUCTURED_CASES = [
    ("budget 0", SINGLE, 0, 16, [], True, [NL, 2, WORD]),
    ("budget then force", SINGLE, 3, 0, [], True, W * 3 + [NL, 2, WORD]),
    ("grace at a newline", SINGLE, 2, 4, W * 3 + [NL], True, W * 3 + [NL, 2, WORD]),
    ("multi-token close", MULTI, 2, 0, [], True, W * 2 + [NL, 23, 21, 22, WORD]),
]


@pytest.mark.parametrize("name,markers,budget,grace,model,opened,expected", CASES,
                         ids=[c[0] for c in CASES])
def test_sequences(name, markers, budget, grace, model, opened, expected):
    out = generate(markers, budget, grace, model, opened=opened)
    assert out[:len(expected)] == expected
    # nothing is forced after thinking closed
    assert out[len(expected):] == [WORD] * (len(out) - len(expected))


@pytest.mark.parametrize("name,markers,budget,grace,model,opened,expected", STRUCTURED_CASES,
                         ids=[c[0] for c in STRUCTURED_CASES])
def test_structured_requests_force_only_the_close(name, markers, budget, grace, model, opened,
                                                 expected):
    out = generate(markers, budget, grace, model, opened=opened, structured=True)
    assert out[:len(expected)] == expected
    assert out[len(expected):] == [WORD] * (len(out) - len(expected))


@pytest.mark.parametrize("markers,model", [
    (SINGLE, [WORD, 2, WORD, WORD, WORD, WORD]),          # model closed thinking before the budget
    (MULTI, [WORD, 23, 21, 22] + [WORD] * 6),             # ... with a split </think>
    (SINGLE, [WORD, CALL, WORD, WORD, WORD, WORD]),       # a tool call from the thought
    (MULTI, [WORD, 24, 25, 22] + [WORD] * 6),             # ... with a split opener
])
def test_thinking_closed_by_model_is_left_alone(markers, model):
    out = generate(markers, 4, 0, model, length=12)
    assert out == model + [WORD] * (12 - len(model))


def test_thinking_off_is_left_alone():
    assert generate(SINGLE, 0, 0, [], opened=False) == [WORD] * 30


@pytest.mark.parametrize("markers,model", [
    (SINGLE, [WORD, 1] + [WORD] * 8),         # <think> inside the answer, e.g. a JSON string
    (MULTI, [WORD, 20, 21, 22] + [WORD] * 6),
])
def test_think_tag_after_the_start_is_text(markers, model):
    """Thinking off: a later `<think>` is answer text; forcing an end there would put tokens
    into the answer (inside a JSON string, ones its grammar rejects)."""
    assert generate(markers, 0, 0, model, opened=False, length=10, structured=True) == model


@pytest.mark.parametrize("markers,tail,state", [
    (SINGLE, [7, 1], True), (SINGLE, [7, 1, NL], True), (SINGLE, [1, 2], False),
    (SINGLE, [1, NL, 2, NL2], False), (SINGLE, [7, 8], None), (SINGLE, [], None),
    (MULTI, [7, 20, 21, 22, NL], True), (MULTI, [20, 21, 22, 23, 21, 22], False),
])
def test_prompt_thinking(markers, tail, state):
    assert prompt_thinking(markers, tail) is state
    assert prompt_opens_thinking(markers, tail) is (state is True)


@pytest.mark.parametrize("structured", [False, True])
@pytest.mark.parametrize("markers,tail", [(SINGLE, [7, 1, 2]), (MULTI, [20, 21, 22, 23, 21, 22])])
def test_a_grammar_after_a_prompt_that_closed_the_thought_gets_nothing_forced(markers, tail,
                                                                            structured):
    """The fuzzer's seed 5 with the reserve on: a `<think></think>` prefill, continued, under a
    regex that writes `<think>` first: vLLM constrains from the first token (the prompt ended
    reasoning), so forcing `</think>` there was a grammar rejection, a 500. Without a grammar
    the output's own `<think>` is still budgeted."""
    model = [*markers.start, *[WORD] * 12]
    track = ThinkingTrack.for_prompt(markers, BudgetParams(2, 0, structured), tail)
    out: list[int] = []
    while len(out) < 10:
        forced = track.forced_token(out)
        out.append(forced if forced is not None else model[len(out)])
    assert (out == model[:10]) is structured


def test_placeholders_count_only():
    """Every sampled id hidden as -1 (V1 entry point + async scheduling): forcing still lands."""
    track = ThinkingTrack(SINGLE, BudgetParams(3, 0), True)
    out: list[int] = []
    forced = []
    for _ in range(10):
        forced.append(track.forced_token(out))
        out.append(UNKNOWN)
    assert forced == [None] * 3 + [NL, 2, NL2] + [None] * 4


def test_trailing_placeholder_repaired_later_matches_plain_run():
    """The newest id arrives one step late (-1 repaired before the next step)."""
    model = W * 4 + [DOT] + W * 20
    expected = generate(SINGLE, 3, 5, model)
    track = ThinkingTrack(SINGLE, BudgetParams(3, 5), True)
    feed = itertools.chain(model, itertools.repeat(WORD))
    out: list[int] = []
    while len(out) < len(expected):
        forced = track.forced_token(out)
        token = forced if forced is not None else next(feed)
        if out:
            out[-1] = pending  # noqa: F821 - the repair of last step's placeholder
        pending = token
        out.append(UNKNOWN)
    out[-1] = pending
    # a line end seen one step late may let one more free token out, never more
    assert out.index(2) - expected.index(2) in (0, 1)
    assert out.index(2) <= 3 + 5 + 2


TOKENS = st.sampled_from([WORD, 6, 7, NL, DOT, 1, 2, NL2, CALL])


@settings(max_examples=200, deadline=None)
@given(model=st.lists(TOKENS, max_size=40), budget=st.integers(0, 12), grace=st.integers(0, 6),
       opened=st.booleans(), structured=st.booleans())
def test_budget_law_and_rebuilt_track_agrees(model, budget, grace, opened, structured):
    """Thinking never exceeds budget + grace + end sequence; a fresh track (after preemption)
    makes the same decision as the incremental one at every step."""
    out = generate(SINGLE, budget, grace, model, opened=opened, length=45, structured=structured)
    params = BudgetParams(budget, grace, structured)
    track = ThinkingTrack(SINGLE, params, opened)
    for n in range(len(out)):
        fresh = ThinkingTrack(SINGLE, params, opened).forced_token(out[:n])
        assert track.forced_token(out[:n]) == fresh
    if opened:
        start = 0
    elif out[:1] == [1]:  # only an output that opens with <think> thinks
        start = 1
    else:
        assert out == model[:len(out)] + [WORD] * (len(out) - len(model)), "forced a token"
        return
    closes = [i for i in range(start, len(out)) if out[i] in (2, CALL)]
    assert closes, "thinking was never closed"
    end = SINGLE.closing_sequence if structured else SINGLE.end_sequence
    assert closes[0] - start <= budget + grace + len(end) - 1
