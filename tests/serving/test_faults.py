"""Issue 24's faults, end to end on the CPU server: requests a hostile or careless client sends
that used to answer 500, lose their answer, or fail after a stream had started.

One server (tiny Nemotron-H with the Nemotron-3-Nano template, which opens `<think>` in the
prompt; `nano_v3`, `llama_nemotron_json`, the budget processor from its entry point), every
request sent raw (httpx), streamed and not, batched in threads. Untidy answers come from the
scripted processor (tests/harness/scripted.py); grammar cases run the random model freely.
Minimal reproductions and what vLLM does without the plugin: docs/faults.md.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.harness.server import OpenAIServer
from vllm_nemotron.parsers.nano_v3_reasoning_parser import GRAMMAR_FROM_START

pytestmark = pytest.mark.slow

CHAT, RESPONSES, MESSAGES = "/v1/chat/completions", "/v1/responses", "/v1/messages"
USER = [{"role": "user", "content": "Weather in Paris?"}]
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
JSON_OBJECT = {"type": "json_object"}
BUDGET = {"thinking_budget": 2, "thinking_budget_grace": 0}


@pytest.fixture(scope="module")
def server(plugin_server):
    """The session's plugin server (tests/conftest.py): these requests need every piece on."""
    return plugin_server


def chat(**fields) -> tuple[str, dict]:
    return CHAT, {"messages": USER, "max_tokens": 24, "temperature": 0, "seed": 7, **fields}


def responses(**fields) -> tuple[str, dict]:
    return RESPONSES, {"input": "Weather in Paris?", "max_output_tokens": 24, "temperature": 0,
                       "seed": 7, **fields}


@dataclass
class Answer:
    status: int
    body: str
    content: str = ""
    reasoning: str = ""
    calls: int = 0
    error: str | None = None  # an error the body carries (also after a 200: a stream's event)


def send(server: OpenAIServer, path: str, body: dict, stream: bool) -> Answer:
    """One raw request; the reply read the same way whether it came whole or streamed."""
    body = {**body, "model": server.model, "stream": stream}
    with httpx.stream("POST", server.url(path), json=body, timeout=120) as response:
        text = response.read().decode()  # a dropped connection raises here
    answer = Answer(response.status_code, text)
    if response.status_code != 200:
        answer.error = json.loads(text)["error"]["message"]
        return answer
    events = ([json.loads(line[6:]) for line in text.splitlines()
               if line.startswith("data: {")] if stream else [json.loads(text)])
    for event in events:
        if "error" in event:
            answer.error = str(event["error"])
        for choice in event.get("choices", ())[:1]:  # chat: a chunk's delta or the message
            part = choice.get("delta") or choice.get("message") or {}
            answer.content += part.get("content") or ""
            answer.reasoning += part.get("reasoning") or ""
            answer.calls += len(part.get("tool_calls") or [])
        if event.get("type") == "response.output_text.delta":
            answer.content += event["delta"]
        for item in event.get("output", ()) if "choices" not in event and not stream else ():
            for part in item.get("content") or ():
                kind = "content" if part["type"] == "output_text" else "reasoning"
                setattr(answer, kind, getattr(answer, kind) + part["text"])
    return answer


def send_all(server: OpenAIServer, cases: list[tuple[str, dict]]) -> list[tuple[Answer, Answer]]:
    """Each case (path, body) non-streamed and streamed, all at once."""
    jobs = [(path, body, stream) for path, body in cases for stream in (False, True)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda job: send(server, *job), jobs))
    return list(zip(answers[::2], answers[1::2], strict=True))


# 1: vLLM constrains a chat request with include_reasoning false and a grammar from its first
# token; the budget processor used to force `\n</think>` into it ("grammar rejected tokens").
# 2: thinking off with a grammar that allows `<think>` first: the processor counted that as a
# thought and forced its end into the regex.
GRAMMAR_FROM_THE_FIRST_TOKEN = [
    chat(include_reasoning=False, response_format=JSON_OBJECT, reasoning_effort="minimal"),
    chat(include_reasoning=False, response_format=JSON_OBJECT, vllm_xargs=BUDGET),
    chat(include_reasoning=False, response_format=JSON_OBJECT, thinking_token_budget=2),
    chat(include_reasoning=False, tools=[TOOL], tool_choice="required", vllm_xargs=BUDGET),
    # the fuzzer's seed 24: a grammar that writes `<think>` first, read streamed as a thought
    chat(include_reasoning=False, structured_outputs={"regex": "<think>[a-z ]*"},
         vllm_xargs=BUDGET),
    chat(chat_template_kwargs={"enable_thinking": False}, vllm_xargs=BUDGET,
         structured_outputs={"regex": "<think>[a-z ]*"}),
    responses(chat_template_kwargs={"enable_thinking": False}, vllm_xargs=BUDGET,
              structured_outputs={"regex": "<think>[a-z ]*"}),
    responses(include_reasoning=False, text={"format": JSON_OBJECT}, vllm_xargs=BUDGET),
    # the fuzzer's seed 5 with the answer reserve on: the prompt closed the thought (a
    # `<think></think>` prefill, `enable_thinking: 0`), so vLLM constrains from the first token
    # and the grammar's `<think>` is answer: neither the reserve nor a budget may close it
    chat(messages=[*USER, {"role": "assistant", "content": "<think></think>"}],
         continue_final_message=True, add_generation_prompt=False,
         structured_outputs={"regex": "<think>[a-z ]*"}, vllm_xargs={"answer_reserve": 8}),
    chat(messages=[*USER, {"role": "assistant", "content": "<think></think>"}],
         continue_final_message=True, add_generation_prompt=False,
         structured_outputs={"regex": "<think>[a-z ]*"}, vllm_xargs=BUDGET),
    chat(chat_template_kwargs={"enable_thinking": 0}, vllm_xargs=BUDGET,
         structured_outputs={"regex": "<think>[a-z ]*"}),
]


def test_a_grammar_from_the_first_token_gets_no_forced_end_of_thinking(server):
    """Faults 1 and 2: 200 streamed and not, and the grammar's output is the answer (no part
    of it read as a thought and dropped)."""
    for (path, body), answers in zip(GRAMMAR_FROM_THE_FIRST_TOKEN,
                                     send_all(server, GRAMMAR_FROM_THE_FIRST_TOKEN), strict=True):
        for stream, answer in enumerate(answers):
            label = (path, body, bool(stream), answer.body[-300:])
            assert answer.status == 200 and answer.error is None, label
            if body.get("include_reasoning") is False and path == CHAT:
                assert answer.content or answer.calls, label  # the answer is not lost
                assert not answer.reasoning, label
            if "response_format" in body:
                assert answer.content.startswith("{"), label
        whole, streamed = answers
        assert (whole.content, whole.calls) == (streamed.content, streamed.calls), (path, body)


@pytest.mark.parametrize("path,body", [
    chat(chat_template_kwargs={GRAMMAR_FROM_START: True}, response_format=JSON_OBJECT,
         vllm_xargs=BUDGET),
    responses(chat_template_kwargs={GRAMMAR_FROM_START: True}, text={"format": JSON_OBJECT},
              vllm_xargs=BUDGET),
])
def test_a_client_cannot_set_the_plugins_internal_marker(server, path, body):
    """Fault 2: the server's own marker, sent by a client, is a 400 naming it."""
    for answer in send_all(server, [(path, body)])[0]:
        assert answer.status == 400, answer.body
        param = json.loads(answer.body)["error"]["param"]
        assert param == f"chat_template_kwargs.{GRAMMAR_FROM_START}"


SCRIPT = {"script": "hello world"}
PREFILL = [*USER, {"role": "assistant", "content": "<think></think>"}]
CLOSED_BY_THE_PROMPT = [
    chat(include_reasoning=False, chat_template_kwargs={"enable_thinking": 0}, vllm_xargs=SCRIPT),
    chat(include_reasoning=False, chat_template_kwargs={"enable_thinking": ""}, vllm_xargs=SCRIPT),
    chat(include_reasoning=False, messages=PREFILL, continue_final_message=True,
         add_generation_prompt=False, vllm_xargs=SCRIPT),
    chat(chat_template_kwargs={"enable_thinking": 0}, vllm_xargs=SCRIPT),
    responses(include_reasoning=False, chat_template_kwargs={"enable_thinking": 0},
              vllm_xargs=SCRIPT),
    responses(chat_template_kwargs={"enable_thinking": ""}, vllm_xargs=SCRIPT),
]


def test_an_answer_after_a_think_block_the_prompt_closed_is_kept(server):
    """Fault 3: thinking closed by anything but `enable_thinking: false` (0, "", a prefill):
    the whole output is the answer, streamed and not (vLLM asks the parser nothing about the
    prompt when include_reasoning is false)."""
    for (path, body), answers in zip(CLOSED_BY_THE_PROMPT,
                                     send_all(server, CLOSED_BY_THE_PROMPT), strict=True):
        for stream, answer in enumerate(answers):
            label = (path, body, bool(stream), answer.body[-300:])
            assert answer.status == 200 and answer.error is None, label
            assert (answer.content, answer.reasoning) == ("hello world", ""), label


BAD_KNOBS = [  # (vllm_xargs, the parameter the 400 names)
    ({"thinking_budget": "x"}, "thinking_budget"),
    ({"thinking_budget": 3, "thinking_budget_grace": 1, "thinking_budget_grace_period": 1},
     "thinking_budget_grace_period"),
    ({"thinking_budget_grace": 1}, "thinking_budget_grace"),
    ({"thinking_budget_grace_period": 1}, "thinking_budget_grace_period"),
    ({"thinking_budget": (1 << 24) + 1}, "thinking_budget"),
    ({"answer_reserve": "lots"}, "answer_reserve"),  # issue 22's knob, the same rule
]


def test_bad_knob_values_are_a_400_before_a_stream_starts(server):
    """Fault 4: validated in the API server (the reasoning parser's adjust_request), not only
    by the processor when the request reaches the engine, after a stream's 200."""
    cases = [make(vllm_xargs=xargs) for xargs, _ in BAD_KNOBS for make in (chat, responses)]
    params = [param for _, param in BAD_KNOBS for _ in (chat, responses)]
    for (path, body), answers, param in zip(cases, send_all(server, cases), params, strict=True):
        for answer in answers:
            assert answer.status == 400, (path, body, answer.body[-300:])
            assert json.loads(answer.body)["error"]["param"] == param


def test_a_forced_tool_with_an_invalid_schema_is_a_400_naming_it(server):
    """Fault 5: the forced call's grammar is built from the tool's schema; `/v1/messages`
    streamed answered `internal_error`, chat completions a 200 then an error event."""
    messages = (MESSAGES, {"max_tokens": 16, "messages": USER, "tool_choice": {
        "type": "tool", "name": "odd_tool"}, "tools": [{
            "name": "odd_tool", "description": "d", "input_schema": {"type": "odd"}}]})
    odd = {"type": "function", "function": {"name": "odd_tool", "parameters": {"type": "odd"}}}
    cases = [messages, chat(tools=[TOOL, odd], tool_choice="required"),
             chat(tools=[odd], tool_choice={"type": "function", "function": {"name": "odd_tool"}}),
             responses(tools=[{"type": "function", "name": "odd_tool",
                               "parameters": {"type": "odd"}}], tool_choice="required")]
    for (path, _), answers in zip(cases, send_all(server, cases), strict=True):
        for answer in answers:
            assert answer.status == 400, (path, answer.body[-300:])
            assert "odd_tool" in (answer.error or ""), answer.body


def test_a_template_kwarg_the_plugin_does_not_need_is_left_alone(server):
    """Fault 6: `reasoning_effort: [1]` in the template kwargs was "unhashable type: 'list'";
    the plugin only reads a string effort there, and the template gets the rest unchanged."""
    cases = [chat(chat_template_kwargs={"reasoning_effort": [1]}),
             responses(chat_template_kwargs={"reasoning_effort": [1]})]
    for answers in send_all(server, cases):
        for answer in answers:
            assert answer.status == 200 and answer.error is None, answer.body[-300:]
