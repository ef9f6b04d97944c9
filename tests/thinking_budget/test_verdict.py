"""Who closed a thought (verdict.py): the replay of the processor over a finished output, against
what the processor itself did while generating it (no vLLM engine)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vllm.sampling_params import SamplingParams, StructuredOutputsParams

from tests.thinking_budget.test_machine import DOT, MULTI, NL, NL2, SINGLE, WORD
from vllm_nemotron.thinking_budget.machine import ThinkingTrack
from vllm_nemotron.thinking_budget.params import BudgetParams
from vllm_nemotron.thinking_budget.verdict import closed_by, request_closed_by

CLOSE = 2  # `</think>` in SINGLE


def generate(markers, params, model_says, *, opened=True, length=30):
    """Decode up to `length` tokens as the engine does; also how many tokens were forced."""
    track = ThinkingTrack(markers, params, opened)
    model = itertools.chain(model_says, itertools.repeat(WORD))
    out: list[int] = []
    forced = 0
    while len(out) < length:
        token = track.forced_token(out)
        forced += token is not None
        out.append(token if token is not None else next(model))
    return out, forced


def verdict(markers, params, output, opened=True):
    return closed_by(ThinkingTrack(markers, params, opened), output)


W = [WORD]
CASES = [
    # (name, params, output, opened in prompt, verdict)
    ("the budget closed it", BudgetParams(3, 0), W * 3 + [NL, CLOSE, NL2] + W, True,
     "thinking_budget"),
    ("budget 0", BudgetParams(0), [NL, CLOSE, NL2] + W, True, "thinking_budget"),
    ("the model closed it first", BudgetParams(5, 0), W + [CLOSE] + W * 8, True, None),
    ("the model closed it in the grace", BudgetParams(2, 6), W * 3 + [CLOSE] + W * 4, True, None),
    ("a tool call closed it", BudgetParams(2, 0), W + [30] + W * 4, True, None),
    ("the reserve closed it", BudgetParams(None, 0, max_tokens=12, reserve=4),
     W * 5 + [NL, CLOSE, NL2] + W * 4, True, "answer_reserve"),
    ("the budget landed before the reserve's cap",
     BudgetParams(2, 0, max_tokens=40, reserve=4), W * 2 + [NL, CLOSE, NL2] + W, True,
     "thinking_budget"),
    ("cut by the limit while closing", BudgetParams(3, 0), W * 3 + [NL, CLOSE], True, None),
    ("no processor ran: the model went on", BudgetParams(3, 0), W * 12, True, None),
    ("never thought", BudgetParams(1, 0), W * 6, False, None),
    ("opened by the model, closed by the budget", BudgetParams(2, 0),
     [1] + W * 2 + [NL, CLOSE, NL2] + W, False, "thinking_budget"),
    ("empty output", BudgetParams(2, 0), [], True, None),
    ("a grammar's answer: only the close is forced", BudgetParams(2, 0, structured=True),
     W * 2 + [NL, CLOSE] + W, True, "thinking_budget"),
    ("the end sequence went on from the model's own newline", BudgetParams(2, 4),
     W * 3 + [NL, CLOSE, NL2] + W, True, "thinking_budget"),
]


@pytest.mark.parametrize("name,params,output,opened,expected", CASES, ids=[c[0] for c in CASES])
def test_verdicts(name, params, output, opened, expected):
    assert verdict(SINGLE, params, output, opened) == expected


tokens = st.lists(st.sampled_from([WORD, DOT, NL, NL2, CLOSE, 1, 30]), max_size=30)


@settings(max_examples=300, deadline=None)
@given(markers=st.sampled_from([SINGLE, MULTI]), model=tokens, opened=st.booleans(),
       budget=st.one_of(st.none(), st.integers(0, 12)), grace=st.integers(0, 6),
       limit=st.integers(1, 40), reserve=st.integers(0, 16), structured=st.booleans())
def test_the_replay_says_what_the_processor_did(markers, model, opened, budget, grace, limit,
                                                reserve, structured):
    """Law: over an output the processor shaped, the verdict names the server exactly when it
    forced a complete close, and names the reserve exactly when the reserve set the landing."""
    if budget is None and not reserve:
        return  # nothing to enforce: the processor builds no track
    params = BudgetParams(budget, grace, structured, max_tokens=limit, reserve=reserve)
    if not opened:
        model = [markers.start[0], *markers.start[1:], *model]
    output, forced = generate(markers, params, model, opened=opened, length=limit)
    engine = ThinkingTrack(markers, params, opened)
    for n in range(len(output) + 1):
        engine.forced_token(output[:n])
    got = verdict(markers, params, output, opened)
    if forced and engine.closed:
        assert got == ("answer_reserve" if engine.by_reserve else "thinking_budget")
    else:
        assert got is None


def test_a_request_without_budget_or_reserve_gets_no_verdict():
    params = SamplingParams(max_tokens=20, extra_args={"answer_reserve": 0})
    assert request_closed_by(params, SINGLE, [1], W * 3 + [NL, CLOSE, NL2]) is None


def test_a_request_reads_the_prompt_and_its_params_as_the_processor_does():
    params = SamplingParams(max_tokens=20, extra_args={"thinking_budget": 2,
                                                       "thinking_budget_grace": 0})
    output = W * 2 + [NL, CLOSE, NL2] + W
    assert request_closed_by(params, SINGLE, [7, 1], output) == "thinking_budget"
    # the prompt closed its thought: the output is answer, nothing was closed
    assert request_closed_by(params, SINGLE, [7, 1, CLOSE], output) is None
    # the prompt closed it and a grammar owns the output: its own `<think>` is not budgeted
    params.structured_outputs = StructuredOutputsParams(regex="<think>[a-z ]*")
    opened_by_output = [1, *output]
    assert request_closed_by(params, SINGLE, [7, 1, CLOSE], opened_by_output) is None
