"""`reasoning_effort` -> thinking budget: the mapping, its environment variables, and what
`apply_reasoning_effort` does to real vLLM request objects (no server; see test_effort_server)."""

from __future__ import annotations

import typing

import pytest
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.openai.responses.protocol import ResponsesRequest

import vllm_nemotron
from vllm_nemotron.parsers import nano_v3_reasoning_parser
from vllm_nemotron.thinking_budget import effort
from vllm_nemotron.thinking_budget.effort import (
    DEFAULT_BUDGET_ENV,
    DEFAULT_EFFORT_BUDGETS,
    EFFORT_BUDGETS_ENV,
    apply_reasoning_effort,
    parse_effort_budgets,
)
from vllm_nemotron.thinking_budget.params import budget_params

MESSAGES = [{"role": "user", "content": "Is 97 prime?"}]


@pytest.fixture(autouse=True)
def fresh_environment(monkeypatch):
    """Each test reads the variables it sets (they are cached once per process)."""
    monkeypatch.delenv(EFFORT_BUDGETS_ENV, raising=False)
    monkeypatch.delenv(DEFAULT_BUDGET_ENV, raising=False)
    effort.effort_budgets.cache_clear()
    effort.default_budget.cache_clear()
    yield
    effort.effort_budgets.cache_clear()
    effort.default_budget.cache_clear()


def chat(**fields) -> ChatCompletionRequest:
    return ChatCompletionRequest(model="m", messages=MESSAGES, **fields)


def budget_sent(request) -> int | None:
    """The budget the thinking-budget processor will read from the request's sampling params."""
    params = (request.to_sampling_params(64, {}) if isinstance(request, ChatCompletionRequest)
              else request.to_sampling_params(64))
    found = budget_params(params)
    return None if found is None else found.budget


def test_every_effort_vllm_accepts_is_mapped_except_none():
    accepted = typing.get_args(ChatCompletionRequest.model_fields["reasoning_effort"].annotation)
    efforts = {value for arg in accepted for value in typing.get_args(arg)}
    assert efforts == {*DEFAULT_EFFORT_BUDGETS, "none"}


def test_default_mapping():
    assert DEFAULT_EFFORT_BUDGETS == {"minimal": 32, "low": 512, "medium": 16384,
                                      "high": None, "xhigh": None, "max": None}
    for name, budget in DEFAULT_EFFORT_BUDGETS.items():
        assert budget_sent(apply_reasoning_effort(chat(reasoning_effort=name))) == budget, name


def test_no_effort_and_no_default_adds_nothing():
    request = apply_reasoning_effort(chat())
    assert request.vllm_xargs is None
    assert budget_sent(request) is None


@pytest.mark.parametrize("fields", [
    {"reasoning_effort": "none"},
    {"reasoning_effort": "low", "chat_template_kwargs": {"enable_thinking": False}},
    {"chat_template_kwargs": {"enable_thinking": False}},
])
def test_thinking_off_gets_no_budget_even_with_a_server_default(monkeypatch, fields):
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    assert budget_sent(apply_reasoning_effort(chat(**fields))) is None


def test_effort_none_with_thinking_on_gets_the_default(monkeypatch):
    """The client's `enable_thinking: true` wins over effort "none" in vLLM's template kwargs,
    so the request thinks, and gets the server's default budget."""
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    request = chat(reasoning_effort="none", chat_template_kwargs={"enable_thinking": True})
    assert budget_sent(apply_reasoning_effort(request)) == 64


def test_explicit_budget_wins_and_other_xargs_stay():
    request = chat(reasoning_effort="minimal",
                   vllm_xargs={"thinking_budget": 700, "thinking_budget_grace": 3, "x": 1})
    assert apply_reasoning_effort(request).vllm_xargs == {
        "thinking_budget": 700, "thinking_budget_grace": 3, "x": 1}


def test_effort_keeps_the_clients_grace_and_other_xargs():
    request = apply_reasoning_effort(
        chat(reasoning_effort="low", vllm_xargs={"thinking_budget_grace": 0, "x": 1}))
    assert request.vllm_xargs == {"thinking_budget_grace": 0, "x": 1, "thinking_budget": 512}
    assert budget_params(request.to_sampling_params(64, {})).grace == 0


def test_native_thinking_token_budget_wins():
    """Adding ours would make the processor refuse the request (the two cannot be combined)."""
    request = apply_reasoning_effort(chat(reasoning_effort="low", thinking_token_budget=8))
    assert request.vllm_xargs is None
    assert request.to_sampling_params(64, {}).thinking_token_budget == 8


def test_operator_mapping_and_default(monkeypatch):
    monkeypatch.setenv(EFFORT_BUDGETS_ENV, " low = 7, high=4096 ,medium=unlimited")
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    expected = {"minimal": 32, "low": 7, "medium": None, "high": 4096, "xhigh": None,
                "max": None, None: 64}
    for name, budget in expected.items():
        request = chat() if name is None else chat(reasoning_effort=name)
        assert budget_sent(apply_reasoning_effort(request)) == budget, name


def test_responses_reasoning_effort(monkeypatch):
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    cases = {"minimal": 32, "high": None, "none": None, None: 64}
    for name, budget in cases.items():
        reasoning = None if name is None else {"effort": name}
        request = ResponsesRequest(input="Is 97 prime?", reasoning=reasoning)
        assert budget_sent(apply_reasoning_effort(request)) == budget, name


def test_parse_leaves_unnamed_efforts_at_their_defaults():
    assert parse_effort_budgets("") == DEFAULT_EFFORT_BUDGETS
    assert parse_effort_budgets("max=0,") == {**DEFAULT_EFFORT_BUDGETS, "max": 0}


@pytest.mark.parametrize("text,says", [
    ("low", "expected effort=budget"),
    ("huge=3", "expected effort=budget"),
    ("none=0", "turns thinking off"),
    ("low=1,low=2", "given twice"),
    ("low=-1", "between 0 and"),
    ("low=1.5", "between 0 and"),
    ("low=", "between 0 and"),
    (f"low={(1 << 24) + 1}", "between 0 and"),
])
def test_bad_mapping_names_the_variable(monkeypatch, text, says):
    monkeypatch.setenv(EFFORT_BUDGETS_ENV, text)
    with pytest.raises(ValueError, match=says) as err:
        effort.check_environment()
    assert str(err.value).startswith(EFFORT_BUDGETS_ENV + ":")


@pytest.mark.parametrize("text", ["lots", "-5", "unlimited", "1e3"])
def test_bad_default_names_the_variable(monkeypatch, text):
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, text)
    with pytest.raises(ValueError) as err:
        effort.check_environment()
    assert str(err.value).startswith(DEFAULT_BUDGET_ENV + ":")


def test_register_checks_the_environment(monkeypatch):
    """vLLM calls `register()` at start in every process; a bad value must stop it there."""
    monkeypatch.setattr(vllm_nemotron, "_registered", False)
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "lots")
    with pytest.raises(ValueError, match=DEFAULT_BUDGET_ENV):
        vllm_nemotron.register()
    assert vllm_nemotron._registered is False


def test_the_reasoning_parser_calls_it():
    """The agreed hook: the installed plugin's parser module imports `apply_reasoning_effort`
    (a drop-in file without the plugin gets None and skips it)."""
    assert nano_v3_reasoning_parser.apply_reasoning_effort is apply_reasoning_effort
