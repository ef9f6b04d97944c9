"""The answer always fits: end to end on the CPU server, with a model that never stops thinking.

One server, the answer reserve at its built-in default (`VLLM_NEMOTRON_ANSWER_RESERVE` empty;
tests/conftest.py turns it off for the older tests). The thought filler
(tests/thinking_budget/filler.py) makes the tiny model think " think" until `</think>` appears,
then say a given answer: without the reserve every thinking request here would spend its whole
limit thinking and come back without an answer. A thought of filler has no line break, so it
lasts exactly as long as the reserve lets it: `limit - reserve(limit) - end sequence` tokens.
Every API (chat completions with `max_tokens` and `max_completion_tokens`, the Responses API,
Anthropic's `/v1/messages`), streamed and not, limits 64, 200 and 1000, tools and a JSON schema,
with budget knobs; the opt-out gives the old behaviour.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai
import pytest
from transformers import AutoTokenizer

from tests.harness.replies import fold_stream, read_reply
from tests.harness.server import OpenAIServer
from tests.thinking_budget.test_knobs_server import ARGS, MESSAGES, SCHEMA
from vllm_nemotron.thinking_budget.markers import CLOSING_TEXT, END_TEXT
from vllm_nemotron.thinking_budget.reserve import RESERVE_ENV, default_reserve

pytestmark = pytest.mark.slow

FILL = " think"
ANSWER = "Blue light scatters most."
LIMITS = (64, 200, 1000)
TOOL = {"name": "get_weather", "description": "Weather in a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
QWEN_CALL = ("<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
             "</function>\n</tool_call>")


@pytest.fixture(scope="module")
def server(tiny_hybrid):
    # the built-in rule, and debug logging for the once-per-request line
    env = {RESERVE_ENV: "", "VLLM_LOGGING_LEVEL": "DEBUG"}
    with OpenAIServer(tiny_hybrid, ARGS, env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def tokens(tiny_hybrid):
    """Token counts of the forced end sequences: (unstructured, under a grammar)."""
    tok = AutoTokenizer.from_pretrained(tiny_hybrid)
    assert len(tok.encode(FILL, add_special_tokens=False)) == 1
    return (len(tok.encode(END_TEXT, add_special_tokens=False)),
            len(tok.encode(CLOSING_TEXT, add_special_tokens=False)))


def cap(limit: int, end: int, reserve: int | None = None) -> int:
    """Thinking tokens the reserve leaves a request limited to `limit` tokens."""
    return max(0, limit - (default_reserve(limit) if reserve is None else reserve) - end)


def xargs(answer: str = "\n\n" + ANSWER, **extra) -> dict:
    """The filler's thought, then `answer` (after "\\n</think>" a grammar-free answer starts
    with the "\\n\\n" the budget forces)."""
    return {"fill_thought": FILL, "fill_answer": answer, **extra}


def chat(server, *, stream=False, limit_field="max_tokens", limit=200, **body):
    extra = {**body.pop("extra_body", {}), "vllm_xargs": body.pop("vllm_xargs", xargs())}
    request = dict(model=server.model, messages=MESSAGES, extra_body=extra, **body)
    if limit is not None:
        request[limit_field] = limit
    # without a limit the thought runs to the reserve's cap of the context left: some 3000
    # tokens, which take minutes on a loaded 2-core machine
    client = server.client() if limit is not None else server.client(timeout=900)
    if stream:
        return fold_stream(client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}))
    return read_reply(client.chat.completions.create(**request))


def words(text: str) -> int:
    assert set(text.split()) <= {"think"}, text
    return len(text.split())


def batch(calls: dict) -> dict:
    """Run {key: zero-argument callable} at once (one engine batch), results by key."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {key: pool.submit(call) for key, call in calls.items()}
        return {key: future.result() for key, future in futures.items()}


def test_chat_completions_every_limit_streamed_and_not(server, tokens):
    jobs = {(limit, field, stream): (lambda limit=limit, field=field, stream=stream: chat(
                server, stream=stream, limit_field=field, limit=limit))
            for limit in LIMITS for field in ("max_tokens", "max_completion_tokens")
            for stream in (False, True)}
    for (limit, field, stream), reply in batch(jobs).items():
        case = (limit, field, stream)
        assert reply.content.strip() == ANSWER, case
        assert reply.finish == "stop", case
        assert words(reply.reasoning) == cap(limit, tokens[0]), case
        assert reply.closed_by == "answer_reserve", case


def test_no_limit_given_uses_the_context_left(server, tokens):
    """vLLM fills max_tokens from the context left; the processor reads that number."""
    reply = chat(server, limit=None)
    assert reply.content.strip() == ANSWER and reply.finish == "stop"
    limit = 4096 - reply.usage.prompt_tokens  # --max-model-len 4096 (tests/harness/server.py)
    assert words(reply.reasoning) == cap(limit, tokens[0])


# case -> (request fields, thinking tokens expected at limit 200, given the end length)
KNOBS = {
    "reserve off": ({"vllm_xargs": xargs(answer_reserve=0)}, lambda end: 200),
    "reserve 100": ({"vllm_xargs": xargs(answer_reserve=100)}, lambda end: cap(200, end, 100)),
    "thinking_budget 5000": ({"vllm_xargs": xargs(thinking_budget=5000)},
                             lambda end: cap(200, end)),
    "thinking_budget 10, below the cap": (
        {"vllm_xargs": xargs(thinking_budget=10, thinking_budget_grace=0)}, lambda end: 10),
    "thinking_budget -1": ({"vllm_xargs": xargs(thinking_budget=-1)}, lambda end: cap(200, end)),
    "thinking_token_budget 5000": ({"extra_body": {"thinking_token_budget": 5000}},
                                   lambda end: cap(200, end)),
    "nvext 5000": ({"extra_body": {"nvext": {"max_thinking_tokens": 5000}}},
                   lambda end: cap(200, end)),
    "reasoning_budget 5000": ({"extra_body": {"reasoning_budget": 5000}},
                              lambda end: cap(200, end)),
    "effort high": ({"reasoning_effort": "high"}, lambda end: cap(200, end)),
    "effort low (512)": ({"reasoning_effort": "low"}, lambda end: cap(200, end)),
    "effort minimal (32 + grace 16), below the cap": ({"reasoning_effort": "minimal"},
                                                      lambda end: 32 + 16),
}


def test_with_every_budget_knob_and_the_opt_out(server, tokens):
    jobs = {(name, stream): (lambda name=name, stream=stream: chat(
                server, stream=stream, **json.loads(json.dumps(KNOBS[name][0]))))
            for name in KNOBS for stream in (False, True)}
    for (name, stream), reply in batch(jobs).items():
        expected = KNOBS[name][1](tokens[0])
        assert words(reply.reasoning) == expected, (name, stream)
        if name == "reserve off":  # today's behaviour: the thought eats the limit
            assert reply.content == "" and reply.finish == "length", stream
            assert reply.closed_by is None, stream  # cut, not closed
        else:
            assert reply.content.strip() == ANSWER and reply.finish == "stop", (name, stream)
            assert reply.closed_by == ("thinking_budget" if "below the cap" in name
                                       else "answer_reserve"), (name, stream)


CHOICES = {
    # tool_choice -> (the scripted answer, grammar-constrained?). qwen3_coder forces a call with
    # xgrammar's Qwen XML structural tag, which begins right after `</think>`.
    "auto": ("auto", "\n\n" + QWEN_CALL, False),
    "required": ("required", QWEN_CALL, True),
    "named": ({"type": "function", "function": {"name": "get_weather"}}, QWEN_CALL, True),
}


@pytest.mark.parametrize("limit", [200, 1000])
def test_tool_calls_and_json_schema_fit_whole(server, tokens, limit):
    jobs = {}
    for name, (choice, answer, _) in CHOICES.items():
        for stream in (False, True):
            jobs[(name, stream)] = (lambda choice=choice, answer=answer, stream=stream: chat(
                server, stream=stream, limit=limit, tools=[{"type": "function", "function": TOOL}],
                tool_choice=choice, vllm_xargs=xargs(answer)))
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}
    for stream in (False, True):
        jobs[("json_schema", stream)] = (lambda stream=stream: chat(
            server, stream=stream, limit=limit, response_format=schema,
            vllm_xargs=xargs('{"answer":"yes"}')))
    for (name, stream), reply in batch(jobs).items():
        structured = name == "json_schema" or CHOICES[name][2]
        assert words(reply.reasoning) == cap(limit, tokens[structured]), (name, stream)
        assert reply.closed_by == "answer_reserve", (name, stream)
        if name == "json_schema":
            assert json.loads(reply.content) == {"answer": "yes"}, stream
            assert reply.finish == "stop", stream
            continue
        assert [(n, json.loads(a)) for n, a in reply.calls] == [
            ("get_weather", {"city": "Paris"})], (name, stream, reply)
        assert reply.finish in ("tool_calls", "stop"), (name, stream)


def create_response(server, stream: bool, request: dict):
    """A Responses API request's response (streamed: the one `response.completed` carries)."""
    client = server.client()
    if stream:
        events = list(client.responses.create(**request, stream=True))
        return next(e.response for e in events if e.type == "response.completed")
    return client.responses.create(**request)


def responses_reply(server, stream: bool, limit: int, text=None, **fields):
    """(output text, reasoning text, status, thinking_closed_by) of one Responses API request;
    `text` is its `text` field (a format) and makes the scripted answer the schema's object."""
    request = dict(model=server.model, input=MESSAGES[0]["content"], max_output_tokens=limit,
                   extra_body={"vllm_xargs": xargs('{"answer":"yes"}', **fields) if text
                               else xargs(**fields)})
    if text:
        request["text"] = text
    response = create_response(server, stream, request)
    reasoning = "".join(c.text for item in response.output if item.type == "reasoning"
                        for c in (item.content or []))
    return (response.output_text, reasoning, response.status,
            (response.model_extra or {}).get("thinking_closed_by"))


def test_responses_api_every_limit_streamed_and_not(server, tokens):
    jobs = {(limit, stream): (lambda limit=limit, stream=stream: responses_reply(
                server, stream, limit)) for limit in LIMITS for stream in (False, True)}
    jobs[("off", False)] = lambda: responses_reply(server, False, 200, answer_reserve=0)
    schema = {"format": {"type": "json_schema", "name": "a", "schema": SCHEMA}}
    for stream in (False, True):
        jobs[("json_schema", stream)] = (lambda stream=stream: responses_reply(
            server, stream, 200, text=schema))
    for (limit, stream), (text, reasoning, status, closed_by) in batch(jobs).items():
        assert closed_by == (None if limit == "off" else "answer_reserve"), (limit, stream)
        if limit == "json_schema":
            assert json.loads(text) == {"answer": "yes"} and status == "completed", stream
            assert words(reasoning) == cap(200, tokens[1]), stream
            continue
        if limit == "off":
            assert text == "" and status == "incomplete"
            assert words(reasoning) == 200
            continue
        assert text.strip() == ANSWER and status == "completed", (limit, stream)
        assert words(reasoning) == cap(limit, tokens[0]), (limit, stream)


def test_anthropic_messages_every_limit_streamed_and_not(server, tokens):
    client = anthropic.Anthropic(base_url=server.url(""), api_key="EMPTY", max_retries=0,
                                 timeout=300)

    def send(limit, stream, **thinking):
        fields = dict(model=server.model, max_tokens=limit, messages=MESSAGES,
                      extra_body={"vllm_xargs": xargs()}, **thinking)
        if stream:
            with client.messages.stream(**fields) as events:
                return events.get_final_message()
        return client.messages.create(**fields)

    jobs = {(limit, stream): (lambda limit=limit, stream=stream: send(limit, stream))
            for limit in LIMITS for stream in (False, True)}
    # Anthropic's smallest budget must be below max_tokens; the reserve caps it further
    budget = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    for stream in (False, True):
        jobs[(1100, stream)] = lambda stream=stream: send(1100, stream, **budget)
    for (limit, stream), message in batch(jobs).items():
        texts = [b.text for b in message.content if b.type == "text"]
        thinking = [b.thinking for b in message.content if b.type == "thinking"]
        assert [t.strip() for t in texts] == [ANSWER], (limit, stream, message)
        assert message.stop_reason == "end_turn", (limit, stream)
        assert words("".join(thinking)) == cap(limit, tokens[0]), (limit, stream)


def test_a_thought_that_ends_in_time_and_thinking_off_are_untouched(server):
    """Token for token the same with the reserve on (default) and off: a scripted thought that
    closes itself, and the random model with thinking off."""
    script = {"script": "Short thought.\n</think>\n\nRayleigh."}
    cases = {
        "closes itself": dict(vllm_xargs=script, logprobs=True),
        "thinking off": dict(vllm_xargs={}, logprobs=True, temperature=0.0, limit=64,
                             extra_body={"chat_template_kwargs": {"enable_thinking": False}}),
    }
    jobs = {}
    for name, body in cases.items():
        for reserve in (None, 0):
            extra = dict(body["vllm_xargs"])
            if reserve is not None:
                extra["answer_reserve"] = reserve
            jobs[(name, reserve)] = (lambda body=body, extra=extra: chat(
                server, **{**json.loads(json.dumps(body)), "vllm_xargs": extra}))
    replies = batch(jobs)
    for name in cases:
        on, off = replies[(name, None)], replies[(name, 0)]
        assert on.tokens and on.tokens == off.tokens, name
        assert on.closed_by is None and off.closed_by is None, name
    assert replies[("closes itself", None)].content.strip() == "Rayleigh."


@pytest.mark.parametrize("value", [-1, "lots", 2.5, 1 << 25])
def test_a_bad_reserve_is_a_400_naming_it(server, value):
    """Non-streamed; streamed, test_faults.py's `test_bad_knob_values_are_a_400_before_a_stream_
    starts` (checked in the API server). (vLLM's request model reads JSON `true` in
    `vllm_xargs` as 1 before the plugin sees it.)"""
    with pytest.raises(openai.BadRequestError) as err:
        chat(server, vllm_xargs={"answer_reserve": value})
    assert "answer_reserve" in str(err.value)


def test_the_server_log_says_it_once_per_request(server):
    """Debug level: one line per request whose thought the server closed (limit 77 marks
    these three requests in the shared log)."""
    batch({i: (lambda: chat(server, limit=77)) for i in range(3)})
    lines = [line for line in server.log_path.read_text().splitlines()
             if "closing a thought" in line and "max_tokens 77," in line]
    assert len(lines) == 3, lines
    assert all("by the answer reserve" in line for line in lines)


def test_the_reply_says_who_closed_the_thought(server):
    """`thinking_closed_by` (thinking_budget/reply.py) on every API, streamed and not: the
    answer reserve, the request's budget, or absent when the model closed its thought itself.
    Chat's every limit and every knob: the tests above."""
    anthropic_client = anthropic.Anthropic(base_url=server.url(""), api_key="EMPTY",
                                           max_retries=0, timeout=300)

    def message(stream: bool, answer_xargs: dict) -> str | None:
        fields = dict(model=server.model, max_tokens=200, messages=MESSAGES,
                      extra_body={"vllm_xargs": answer_xargs})
        if not stream:
            return (anthropic_client.messages.create(**fields).model_extra or {}).get(
                "thinking_closed_by")
        deltas = [event.delta for event in anthropic_client.messages.create(**fields, stream=True)
                  if event.type == "message_delta"]
        assert len(deltas) == 1
        return (deltas[0].model_extra or {}).get("thinking_closed_by")

    cases = {  # name -> (vllm_xargs, verdict)
        "reserve": (xargs(), "answer_reserve"),
        "budget": (xargs(thinking_budget=10, thinking_budget_grace=0), "thinking_budget"),
        "model": ({"script": "Short thought.\n</think>\n\nRayleigh."}, None),
    }
    jobs = {}
    for name, (extra, _) in cases.items():
        for stream in (False, True):
            jobs[("chat", name, stream)] = (
                lambda extra=extra, stream=stream: chat(server, stream=stream,
                                                        vllm_xargs=extra).closed_by)
            jobs[("responses", name, stream)] = (
                lambda extra=extra, stream=stream: responses_closed_by(server, stream, extra))
            jobs[("messages", name, stream)] = (
                lambda extra=extra, stream=stream: message(stream, extra))
    for (api, name, stream), verdict in batch(jobs).items():
        assert verdict == cases[name][1], (api, name, stream)


def responses_closed_by(server, stream: bool, extra: dict) -> str | None:
    request = dict(model=server.model, input=MESSAGES[0]["content"], max_output_tokens=200,
                   extra_body={"vllm_xargs": extra})
    return (create_response(server, stream, request).model_extra or {}).get("thinking_closed_by")
