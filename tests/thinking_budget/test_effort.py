"""Every thinking knob -> one budget: the precedence, the checks, the effort mapping and its
environment variables, `low_effort`, on real vLLM request objects (no server; the end-to-end
tests are test_knobs_server.py and test_effort_server.py)."""

from __future__ import annotations

import typing
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vllm.entrypoints.anthropic.protocol import AnthropicMessagesRequest
from vllm.entrypoints.anthropic.serving import AnthropicServingMessages
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.openai.responses.protocol import ResponsesRequest
from vllm.exceptions import VLLMValidationError
from vllm.renderers.registry import RENDERER_REGISTRY

import vllm_nemotron
from vllm_nemotron.parsers import nano_v3_reasoning_parser
from vllm_nemotron.thinking_budget import effort
from vllm_nemotron.thinking_budget.effort import (
    CLIENT_BUDGETS,
    DEFAULT_BUDGET_ENV,
    DEFAULT_EFFORT_BUDGETS,
    EFFORT_BUDGETS_ENV,
    apply_thinking_knobs,
    parse_effort_budgets,
    request_budget,
    template_kwargs,
)
from vllm_nemotron.thinking_budget.params import budget_params
from vllm_nemotron.thinking_budget.renderer import EffortHfRenderer, with_effort_kwargs

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


def anthropic(**fields) -> ChatCompletionRequest:
    """The chat request vLLM makes of a `/v1/messages` request (its own conversion)."""
    request = AnthropicMessagesRequest(model="m", messages=MESSAGES, max_tokens=4096, **fields)
    return AnthropicServingMessages.to_chat_completion_request(request)


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
        assert budget_sent(apply_thinking_knobs(chat(reasoning_effort=name))) == budget, name


def test_no_knob_and_no_default_adds_nothing():
    request = apply_thinking_knobs(chat())
    assert request.vllm_xargs is None
    assert budget_sent(request) is None


# (request fields, what decides, the budget): docs/thinking-knobs.md's precedence, row by row
PRECEDENCE = [
    ({"vllm_xargs": {"thinking_budget": 7}, "thinking_token_budget": 9,
      "nvext": {"max_thinking_tokens": 11}}, "vllm_xargs.thinking_budget", 7),
    ({"thinking_token_budget": 9, "vllm_xargs": {"thinking_budget_grace": 0},
      "nvext": {"max_thinking_tokens": 11}, "max_thinking_tokens": 13},
     "thinking_token_budget", 9),
    ({"nvext": {"max_thinking_tokens": 11}, "max_thinking_tokens": 13, "reasoning_budget": 15},
     "nvext.max_thinking_tokens", 11),
    ({"max_thinking_tokens": 13, "reasoning_budget": 15,
      "chat_template_kwargs": {"reasoning_budget": 17}}, "max_thinking_tokens", 13),
    ({"reasoning_budget": 15, "chat_template_kwargs": {"reasoning_budget": 17}},
     "reasoning_budget", 15),
    ({"chat_template_kwargs": {"reasoning_budget": 17}, "reasoning_effort": "low"},
     "chat_template_kwargs.reasoning_budget", 17),
    # the client's own number wins over the effort, thinking off and the server default
    ({"nvext": {"max_thinking_tokens": 0}, "reasoning_effort": "high"},
     "nvext.max_thinking_tokens", 0),
    ({"max_thinking_tokens": 5, "chat_template_kwargs": {"enable_thinking": False}},
     "max_thinking_tokens", 5),
    # -1 is "no budget", as in NeMo's processor: it beats the effort and the server default
    ({"vllm_xargs": {"thinking_budget": -1}, "reasoning_effort": "minimal",
      "nvext": {"max_thinking_tokens": 3}}, "vllm_xargs.thinking_budget", None),
    ({"reasoning_effort": "none"}, "thinking off", None),
    ({"reasoning_effort": "low", "chat_template_kwargs": {"enable_thinking": False}},
     "thinking off", None),
    ({"reasoning_effort": "minimal"}, "effort 'minimal'", 32),
    ({"reasoning_effort": "high"}, "effort 'high'", None),
    ({}, "server default", 64),
]


@pytest.mark.parametrize("fields,source,budget", PRECEDENCE)
def test_precedence(monkeypatch, fields, source, budget):
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    request = chat(**fields)
    assert request_budget(request) == (source, budget)
    apply_thinking_knobs(request)
    assert budget_sent(request) == budget
    assert request.thinking_token_budget is None  # vLLM's native cut never runs beside ours


def test_precedence_table_covers_every_client_knob():
    assert {row[1] for row in PRECEDENCE} >= set(CLIENT_BUDGETS)


def budget_and_grace(request) -> tuple[int, int] | None:
    found = budget_params(request.to_sampling_params(64, {}))
    return None if found is None else (found.budget, found.grace)


@pytest.mark.parametrize("xargs,sent", [
    ({}, (84, 16)),  # the default grace comes out of the budget: 84 + 16 = 100
    ({"thinking_budget_grace": 0}, (100, 0)),  # vLLM's exact cut, with our end sequence
    ({"thinking_budget_grace": 30}, (70, 30)),
    ({"thinking_budget_grace_period": 30}, (70, 30)),  # NeMo's name
    ({"thinking_budget_grace": 500}, (0, 100)),  # never past the maximum
])
def test_native_budget_is_a_maximum_with_the_grace_inside_it(xargs, sent):
    """vLLM's thinking_token_budget (Anthropic's budget_tokens) moves onto our processor: the
    thought ends at a line break in its last `grace` tokens, else at the budget."""
    request = apply_thinking_knobs(chat(thinking_token_budget=100, vllm_xargs={**xargs, "x": 1}))
    assert request.thinking_token_budget is None
    assert budget_and_grace(request) == sent
    assert request.vllm_xargs["x"] == 1


@pytest.mark.parametrize("xargs,parameter", [
    ({"thinking_budget_grace": "lots"}, "thinking_budget_grace"),
    ({"thinking_budget_grace_period": -1}, "thinking_budget_grace_period"),
    ({"thinking_budget_grace": 1, "thinking_budget_grace_period": 1},
     "thinking_budget_grace_period"),
])
def test_native_budget_with_a_bad_grace_is_a_400(xargs, parameter):
    with pytest.raises(VLLMValidationError) as err:
        apply_thinking_knobs(chat(thinking_token_budget=100, vllm_xargs=xargs))
    assert err.value.parameter == parameter


def test_explicit_budget_wins_and_other_xargs_stay():
    request = chat(reasoning_effort="minimal",
                   vllm_xargs={"thinking_budget": 700, "thinking_budget_grace": 3, "x": 1})
    assert apply_thinking_knobs(request).vllm_xargs == {
        "thinking_budget": 700, "thinking_budget_grace": 3, "x": 1}


def test_effort_keeps_the_clients_grace_and_other_xargs():
    request = apply_thinking_knobs(
        chat(reasoning_effort="low", vllm_xargs={"thinking_budget_grace": 0, "x": 1}))
    assert request.vllm_xargs == {"thinking_budget_grace": 0, "x": 1, "thinking_budget": 512}
    assert budget_params(request.to_sampling_params(64, {})).grace == 0


def test_nemo_grace_name_is_honoured():
    request = apply_thinking_knobs(
        chat(reasoning_effort="low", vllm_xargs={"thinking_budget_grace_period": 5}))
    assert budget_params(request.to_sampling_params(64, {})).grace == 5


# the knobs we read ourselves (vLLM's request model checks thinking_token_budget, the
# processor checks vllm_xargs.thinking_budget: test_params_and_loaders.py)
OUR_CHECKS = [n for n in CLIENT_BUDGETS if n not in ("vllm_xargs.thinking_budget",
                                                      "thinking_token_budget")]


@pytest.mark.parametrize("name", OUR_CHECKS)
@pytest.mark.parametrize("value", ["lots", 2.5, True, -1, 1 << 25])
def test_a_bad_budget_is_a_400_naming_its_knob(name, value):
    head, _, tail = name.partition(".")
    fields = {head: {tail: value}} if tail else {head: value}
    with pytest.raises(VLLMValidationError) as err:
        apply_thinking_knobs(chat(**fields))
    assert err.value.parameter == name
    assert name in str(err.value)


def test_a_bad_knob_is_refused_even_when_another_wins():
    with pytest.raises(VLLMValidationError) as err:
        apply_thinking_knobs(chat(vllm_xargs={"thinking_budget": 5}, reasoning_budget="lots"))
    assert err.value.parameter == "reasoning_budget"


def test_nvext_must_be_an_object():
    with pytest.raises(VLLMValidationError) as err:
        apply_thinking_knobs(chat(nvext=[128]))
    assert err.value.parameter == "nvext"


@pytest.mark.parametrize("fields,knob,budget", [
    ({"min_thinking_tokens": 1024, "max_thinking_tokens": 8192}, "min_thinking_tokens", 8192),
    ({"nvext": {"min_thinking_tokens": 8}}, "nvext.min_thinking_tokens", None),
    ({"vllm_xargs": {"thinking_budget": 9, "end_token_ids": "[1, 2]"}},
     "vllm_xargs.end_token_ids", 9),
])
def test_knobs_we_cannot_honour_are_ignored_with_a_warning(fields, knob, budget):
    with mock.patch.object(effort.logger, "warning_once") as warn:
        request = apply_thinking_knobs(chat(**fields))
    assert [c.args[1] for c in warn.call_args_list] == [knob]
    assert budget_sent(request) == budget  # the rest of the request is served as sent


@pytest.mark.parametrize("fields", [
    {"reasoning_effort": "none"},
    {"reasoning_effort": "low", "chat_template_kwargs": {"enable_thinking": False}},
    {"chat_template_kwargs": {"enable_thinking": False}},
])
def test_thinking_off_gets_no_budget_even_with_a_server_default(monkeypatch, fields):
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    assert budget_sent(apply_thinking_knobs(chat(**fields))) is None


def test_effort_none_with_thinking_on_gets_the_default(monkeypatch):
    """The client's `enable_thinking: true` wins over effort "none" in vLLM's template kwargs,
    so the request thinks, and gets the server's default budget."""
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    request = chat(reasoning_effort="none", chat_template_kwargs={"enable_thinking": True})
    assert budget_sent(apply_thinking_knobs(request)) == 64


def test_operator_mapping_and_default(monkeypatch):
    monkeypatch.setenv(EFFORT_BUDGETS_ENV, " low = 7, high=4096 ,medium=unlimited")
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    expected = {"minimal": 32, "low": 7, "medium": None, "high": 4096, "xhigh": None,
                "max": None, None: 64}
    for name, budget in expected.items():
        request = chat() if name is None else chat(reasoning_effort=name)
        assert budget_sent(apply_thinking_knobs(request)) == budget, name


def test_responses_api(monkeypatch):
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    cases = {"minimal": 32, "high": None, "none": None, None: 64}
    for name, budget in cases.items():
        reasoning = None if name is None else {"effort": name}
        request = ResponsesRequest(input="Is 97 prime?", reasoning=reasoning)
        assert budget_sent(apply_thinking_knobs(request)) == budget, name
    nim = ResponsesRequest(input="Is 97 prime?", nvext={"max_thinking_tokens": 9})
    assert budget_sent(apply_thinking_knobs(nim)) == 9


@pytest.mark.parametrize("fields,sent", [
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, (1008, 16)),
    ({"output_config": {"effort": "low"}}, (512, 16)),
    ({"output_config": {"effort": "high"}}, None),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048},
      "output_config": {"effort": "low"}}, (2032, 16)),
    ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, (512, 16)),
    ({"thinking": {"type": "disabled"}}, None),
    ({"vllm_xargs": {"thinking_budget": 3}}, (3, 16)),
])
def test_anthropic_messages_knobs(monkeypatch, fields, sent):
    """What vLLM makes of a `/v1/messages` request's thinking fields, then our decision."""
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "64")
    request = apply_thinking_knobs(anthropic(**fields))
    assert budget_and_grace(request) == sent
    assert request.thinking_token_budget is None


def test_register_checks_the_environment(monkeypatch):
    """vLLM calls `register()` at start in every process; a bad value must stop it there."""
    monkeypatch.setattr(vllm_nemotron, "_registered", False)
    monkeypatch.setenv(DEFAULT_BUDGET_ENV, "lots")
    with pytest.raises(ValueError, match=DEFAULT_BUDGET_ENV):
        vllm_nemotron.register()
    assert vllm_nemotron._registered is False


def test_the_reasoning_parser_calls_it():
    """The hook: the installed plugin's parser module imports `apply_thinking_knobs` (a drop-in
    file without the plugin gets None and skips it)."""
    assert nano_v3_reasoning_parser.apply_thinking_knobs is apply_thinking_knobs


# --- low_effort: the prompt side of the effort ---------------------------------------------

@pytest.mark.parametrize("kwargs,low_effort", [
    ({"reasoning_effort": "low", "enable_thinking": True}, True),
    ({"reasoning_effort": "minimal", "enable_thinking": True}, True),
    ({"reasoning_effort": "medium", "enable_thinking": True}, None),
    ({"reasoning_effort": "high"}, None),
    ({"reasoning_effort": "none", "enable_thinking": False}, None),
    ({"reasoning_effort": "low", "enable_thinking": False}, None),  # thinking off
    ({"reasoning_effort": "low", "low_effort": False}, False),  # the client's own stays
    ({}, None),
])
def test_template_kwargs(kwargs, low_effort):
    assert template_kwargs(kwargs).get("low_effort") == low_effort


@given(st.dictionaries(st.sampled_from(["reasoning_effort", "enable_thinking", "low_effort",
                                        "tools", "x"]),
                       st.one_of(st.none(), st.booleans(), st.sampled_from(
                           ["none", "minimal", "low", "medium", "high"]))))
def test_template_kwargs_only_ever_adds_low_effort(kwargs):
    out = template_kwargs(kwargs)
    assert {k: out[k] for k in kwargs} == kwargs  # nothing the client or server set changes
    added = set(out) - set(kwargs)
    assert added <= {"low_effort"}
    if added:
        assert out["low_effort"] is True
        assert kwargs.get("reasoning_effort") in ("minimal", "low")
        assert kwargs.get("enable_thinking") is not False
    assert template_kwargs(out) == out


@pytest.mark.parametrize("request_,low_effort", [
    (chat(reasoning_effort="low"), True),
    (chat(reasoning_effort="low", chat_template_kwargs={"low_effort": False}), False),
    (chat(reasoning_effort="medium"), None),
    (chat(reasoning_effort="minimal", chat_template_kwargs={"enable_thinking": False}), None),
    (ResponsesRequest(input="Is 97 prime?", reasoning={"effort": "low"}), True),
    (anthropic(output_config={"effort": "low"}), True),
    (anthropic(output_config={"effort": "max"}), None),
])
def test_the_renderer_sees_low_effort_from_the_requests_effort(request_, low_effort):
    """`build_chat_params` is what vLLM hands its renderer; ours adds the effort's kwargs."""
    params = request_.build_chat_params(None, "auto")
    assert with_effort_kwargs(params).chat_template_kwargs.get("low_effort") == low_effort


def test_register_puts_our_renderer_in_place_of_vllms_own(monkeypatch):
    monkeypatch.setattr(vllm_nemotron, "_registered", False)
    monkeypatch.setitem(RENDERER_REGISTRY.renderers, "hf", ("vllm.renderers.hf", "HfRenderer"))
    vllm_nemotron.register()
    assert RENDERER_REGISTRY.load_renderer_cls("hf") is EffortHfRenderer


def test_register_leaves_another_plugins_renderer(monkeypatch):
    monkeypatch.setattr(vllm_nemotron, "_registered", False)
    monkeypatch.setitem(RENDERER_REGISTRY.renderers, "hf", ("their_plugin", "TheirRenderer"))
    vllm_nemotron.register()
    assert RENDERER_REGISTRY.renderers["hf"] == ("their_plugin", "TheirRenderer")


# --- the operator's variables ----------------------------------------------------------------

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


def test_our_warnings_go_where_vllms_do(monkeypatch):
    """The API server's root logger stops at ERROR; our warnings must not depend on it, and
    reach vLLM's handlers even when vLLM sets them up after `register()`."""
    import logging

    ours, theirs = logging.getLogger("vllm_nemotron"), logging.getLogger("vllm")
    for logger in (ours, theirs):
        monkeypatch.setattr(logger, "handlers", [])
        monkeypatch.setattr(logger, "propagate", logger.propagate)
        monkeypatch.setattr(logger, "level", logger.level)
    monkeypatch.setattr(logging.root, "level", logging.ERROR)
    vllm_nemotron._log_like_vllm()
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    theirs.handlers = [handler]  # vLLM configures its logging later
    logging.getLogger("vllm_nemotron.thinking_budget.effort").warning("lost?")
    assert [r.getMessage() for r in records] == ["lost?"]


@pytest.mark.parametrize("effort", [[1], {"a": 1}, 3, None])
def test_an_effort_that_is_not_a_string_reaches_the_template_unchanged(effort):
    """Issue 24: `chat_template_kwargs: {"reasoning_effort": [1]}` was "unhashable type: 'list'"
    (a 400 naming nothing); the plugin reads only a string effort there."""
    kwargs = {"reasoning_effort": effort}
    assert template_kwargs(kwargs) is kwargs
