"""Forced tool calls under the server's structured-output settings, end to end (issue 18).

The server runs `--structured-outputs-config '{"backend": "xgrammar",
"disable_any_whitespace": true}'`. A forced call (`tool_choice` "required" or a named function)
must come back compact, as a `json_schema` answer does on that server, and as a tool call:
chat completions and the Responses API, streamed and not, with a thinking budget and without.

- free: the random model writes what the grammar lets it; the JSON it wrote (the reply's
  content when the call did not finish, or the call's arguments) has no whitespace outside
  strings. Under the old forced-call grammar (a structural tag, compiled without the server's
  settings) it wrote whitespace between every token and ran out of tokens.
- scripted: the model says a compact call (tests/harness/scripted.py; the grammar would reject
  any other form), which comes back as the call every time.
- lenient (issue 23): a forced call holding what the grammar lets through beyond plain text (a
  lone surrogate escape, a raw DEL) is the call, its arguments as written; a call the model
  writes itself (`auto`, no grammar) with raw control characters in a string is the call, its
  arguments strict JSON. xgrammar 0.2.8 keeps raw control characters out of a forced call (a
  scripted one ends in "grammar rejected tokens"); tests/parsers/test_forced_calls.py pins that.

Tiny Nemotron-H with the Nano-v2 template (opens `<think>`), `nano_v3`, `llama_nemotron_json`,
the budget processor from its entry point.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.harness.replies import fold_stream, read_reply
from tests.harness.server import OpenAIServer
from tests.serving import test_combinations as combinations
from tests.thinking_budget.served import THOUGHT_ENDS, thought_end
from vllm_nemotron.tiny import build_nemotron_h

pytestmark = pytest.mark.slow

ARGS = [*combinations.ARGS,  # the server of test_combinations.py, with the setting
        "--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}']
TOOL = {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CHAT_TOOLS = [{"type": "function", "function": TOOL}]
RESPONSES_TOOLS = [{"type": "function", **TOOL}]
CHOICES = {  # (chat, Responses) tool_choice
    "required": ("required", "required"),
    "named": ({"type": "function", "function": {"name": "get_weather"}},
              {"type": "function", "name": "get_weather"}),
}
TOOL_CHOICES = {**CHOICES, "auto": ("auto", "auto")}
CALL = '[{"name":"get_weather","parameters":{"city":"Paris"}}]'
ARGUMENTS = '{"city":"Paris"}'
# How thinking goes: (template kwargs, vllm_xargs, what the scripted model thinks first)
THINKING = {
    "budget": (None, {"thinking_budget": 4, "thinking_budget_grace": 0}, None),
    "budget, scripted": (None, {"thinking_budget": 32}, "Weather first.</think>"),
    "thinking on, no budget": (None, {}, "Weather first.</think>"),
    "thinking off": ({"enable_thinking": False}, {}, ""),
}
FREE_MAX_TOKENS, SCRIPTED_MAX_TOKENS = 80, 60


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = build_nemotron_h(tmp_path_factory.mktemp("models") / "nano-v2",
                             template="nemotron_nano_v2")
    with OpenAIServer(model, ARGS) as srv:
        yield srv


def chat(server, choice, thinking, stream, script=None):
    """(JSON the model wrote after its thought, calls) of one chat request."""
    template, xargs, _ = THINKING[thinking]
    body = {"vllm_xargs": {**xargs, **({"script": script} if script is not None else {})}}
    if template:
        body["chat_template_kwargs"] = template
    response = server.client().chat.completions.create(
        model=server.model, messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=CHAT_TOOLS, tool_choice=TOOL_CHOICES[choice][0], stream=stream, logprobs=True,
        max_tokens=SCRIPTED_MAX_TOKENS if script is not None else FREE_MAX_TOKENS,
        temperature=1.0, extra_body=body)
    reply = fold_stream(response) if stream else read_reply(response)
    tokens = reply.tokens
    if template is None:  # thinking on: the answer follows `</think>` (or a tool-call opener)
        end = thought_end(tokens)
        tokens = [] if end is None else tokens[end + 1:]
    return "".join(tokens), reply.calls


def responses(server, choice, thinking, stream, script=None):
    """(JSON the model wrote that the reply shows: text, else the calls' arguments; calls)."""
    template, xargs, _ = THINKING[thinking]
    body = {"vllm_xargs": {**xargs, **({"script": script} if script is not None else {})}}
    if template:
        body["chat_template_kwargs"] = template
    response = server.client().responses.create(
        model=server.model, input="Weather in Paris?", tools=RESPONSES_TOOLS,
        tool_choice=TOOL_CHOICES[choice][1], stream=stream, temperature=1.0,
        max_output_tokens=SCRIPTED_MAX_TOKENS if script is not None else FREE_MAX_TOKENS,
        extra_body=body)
    if stream:
        response = next(e.response for e in response if e.type == "response.completed")
    calls = [(o.name, o.arguments) for o in response.output if o.type == "function_call"]
    text = "".join(c.text for o in response.output if o.type == "message" for c in o.content
                   if c.type == "output_text")
    for opener in THOUGHT_ENDS:  # a thought that ended on a tool-call opener leaves it here
        text = text.removeprefix(opener)
    return text + "".join(a for _, a in calls), calls


API = {"chat": chat, "responses": responses}
STRING = re.compile(r'"(?:\\.|[^"\\])*(?:"|$)')  # a JSON string, or one left open at the end


def whitespace_outside_strings(text: str) -> bool:
    return any(c in " \t\r\n" for c in STRING.sub("", text))


FREE = [(api, choice, thinking, stream) for api in API for choice in CHOICES
        for thinking in ("budget", "thinking off") for stream in (False, True)]


def test_free_forced_calls_are_compact(server):
    """The random model under the forced call's grammar: compact JSON every time."""
    with ThreadPoolExecutor(len(FREE)) as pool:
        results = list(pool.map(lambda c: API[c[0]](server, *c[1:]), FREE))
    bad = []
    for case, (written, calls) in zip(FREE, results):
        # The budget case ends its thought within 4 + "\n</think>" tokens: JSON follows. A
        # Responses reply shows a finished call's arguments only.
        start = "{" if case[0] == "responses" and calls else "[{"
        if not written.startswith(start) or whitespace_outside_strings(written):
            bad.append((case, written))
    assert not bad


SCRIPTED = [(api, choice, thinking, stream) for api in API for choice in CHOICES
            for thinking in ("budget, scripted", "thinking on, no budget", "thinking off")
            for stream in (False, True)]


def test_scripted_forced_calls_come_back_as_the_call(server):
    """A compact call (what the grammar allows) is the tool call, each time."""
    def run(case):
        api, choice, thinking, stream = case
        return API[api](server, choice, thinking, stream, script=THINKING[thinking][2] + CALL)

    with ThreadPoolExecutor(len(SCRIPTED)) as pool:
        results = list(pool.map(run, SCRIPTED))
    assert [(case, calls) for case, (_, calls) in zip(SCRIPTED, results)
            if calls != [("get_weather", ARGUMENTS)]] == []


# (tool_choice, what the model says after its thought, the arguments that come back)
LENIENT = {
    # What the grammar lets through beyond plain text: kept as written (strict JSON already).
    "forced": ('[{"name":"get_weather","parameters":{"city":"\\ud800\\t\x7f"}}]',
               '{"city":"\\ud800\\t\x7f"}'),
    # Raw control characters, which only a call without a grammar can hold: escaped.
    "auto": ('<TOOLCALL>[{"name":"get_weather","arguments":{"city":"a\tb\x01"}}]</TOOLCALL>',
             '{"city":"a\\tb\\u0001"}'),
}
LENIENT_CASES = [(api, choice, thinking, stream) for api in API
                 for choice in ("required", "named", "auto")
                 for thinking in ("budget, scripted", "thinking on, no budget", "thinking off")
                 for stream in (False, True)]


def test_calls_read_leniently_come_back_as_strict_json(server):
    """Issue 23: whatever the grammar let through is the call; raw control characters in a
    call's strings are read as themselves and sent escaped. Chat and Responses, streamed and
    not, with a thinking budget, thinking without one, and thinking off."""
    def run(case):
        api, choice, thinking, stream = case
        script, _ = LENIENT["auto" if choice == "auto" else "forced"]
        return API[api](server, choice, thinking, stream, script=THINKING[thinking][2] + script)

    with ThreadPoolExecutor(len(LENIENT_CASES)) as pool:
        results = list(pool.map(run, LENIENT_CASES))
    wrong = []
    for case, (_, calls) in zip(LENIENT_CASES, results):
        arguments = LENIENT["auto" if case[1] == "auto" else "forced"][1]
        if calls != [("get_weather", arguments)]:  # both strict JSON, as clients parse
            wrong.append((case, calls))
    assert wrong == []


@pytest.mark.parametrize("stream", [False, True])
def test_responses_thinking_off_answer_format(server, stream):
    """Responses, thinking off, a text.format schema: the grammar starts at the first token
    (vLLM 0.32's Responses API left it to the model, whose second token the grammar then
    rejected: HTTP 500), and the answer is compact JSON from its first character."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}},
              "required": ["city"], "additionalProperties": False}
    response = server.client().responses.create(
        model=server.model, input="Weather in Paris?", stream=stream, temperature=1.0,
        max_output_tokens=FREE_MAX_TOKENS,
        text={"format": {"type": "json_schema", "name": "w", "schema": schema}},
        extra_body={"chat_template_kwargs": {"enable_thinking": False},
                    "vllm_xargs": {"script": '{"city":"Paris"}'}})
    if stream:
        response = next(e.response for e in response if e.type == "response.completed")
    assert json.loads(response.output_text) == {"city": "Paris"}


def test_a_json_schema_answer_is_compact_too(server):
    """The server setting as vLLM applies it to an answer format, for comparison."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
              "required": ["a", "b"]}
    response = server.client().chat.completions.create(
        model=server.model, messages=[{"role": "user", "content": "JSON?"}], max_tokens=40,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    content = response.choices[0].message.content
    assert content.startswith('{"a":"') and not whitespace_outside_strings(content), content
    if response.choices[0].finish_reason == "stop":
        assert json.loads(content).keys() == {"a", "b"}
