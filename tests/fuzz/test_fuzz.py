"""The request fuzzer in the suite (issue 24): a fixed seed and a small fixed count of generated
requests on one server, and a strict-xfail reproduction of each vLLM failure it knows.

The server: tiny Nemotron-H with the Nemotron-3-Nano template, `nano_v3`,
`llama_nemotron_json`, the budget processor from its entry point and the scripted-output
processor (tests/fuzz/run.py, config `json`). Longer runs: `python -m tests.fuzz.run`.
Every finding must be in tests/fuzz/known.py's table; a vLLM entry there has its reproduction
below, which turns red (strict xfail) when a fixed vLLM arrives, so its entry can go.
"""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest

from tests.fuzz.requests import generate
from tests.fuzz.run import Report, print_report, run_cases, server_args
from tests.harness.server import OpenAIServer

pytestmark = pytest.mark.slow

SEED, COUNT = 24, 300  # about 20 s of requests on the CPU server (and 15 s to start it)


@pytest.fixture(scope="module")
def server(tiny_hybrid):
    with OpenAIServer(tiny_hybrid, server_args("json")) as srv:
        yield srv


def test_fuzzed_requests_break_nothing(server):
    """No 5xx, no crash, no hang, 4xx name a field, 200s are well formed, greedy streamed
    equals non-streamed: every finding is a known one (tests/fuzz/known.py)."""
    report = Report()
    left = run_cases(generate(SEED, COUNT, "llama_nemotron_json"), server.url(""), report)
    text = io.StringIO()
    print_report(report, text)
    assert not report.crashes and not left, text.getvalue()
    assert not report.new, text.getvalue()
    assert report.statuses["200"] > COUNT // 3, text.getvalue()  # most requests are served


def post(server: OpenAIServer, path: str, body: dict, **kwargs) -> httpx.Response:
    return httpx.post(server.url(path), json={"model": server.model, **body}, timeout=120,
                      **kwargs)


WEATHER = {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.mark.xfail(strict=True, reason="vLLM: KeyError 'function' in the chat request's "
                   "tool_choice check (docs/vllm-failures.md)")
def test_vllm_named_tool_choice_with_a_tool_lacking_function(server):
    response = post(server, "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
        "tools": [{"type": "function"}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})
    assert response.status_code == 400, response.text


def sse_types(text: str) -> list[str]:
    return [json.loads(line[5:]).get("type", "") for line in text.splitlines()
            if line.startswith("data:") and line[5:].strip() != "[DONE]"]


@pytest.mark.xfail(strict=True, reason="vLLM: the Responses stream validates the grammar after "
                   "its 200 and drops the connection (docs/vllm-failures.md)")
def test_vllm_responses_stream_ends_properly_on_a_late_validation_error(server):
    body = {"model": server.model, "input": "Hi", "max_output_tokens": 8, "stream": True,
            "text": {"format": {"type": "json_schema", "name": "a", "schema": {"type": "odd"}}}}
    try:
        with httpx.stream("POST", server.url("/v1/responses"), json=body, timeout=120) as reply:
            status, text = reply.status_code, reply.read().decode()
    except httpx.RemoteProtocolError as exc:
        pytest.fail(f"the connection was dropped: {exc!r}")
    assert status == 400 or sse_types(text)[-1:] in (["error"], ["response.failed"]), text


@pytest.mark.xfail(strict=True, reason="vLLM: a streamed chat request failing a check of the "
                   "engine client is a 200 with an error event (docs/vllm-failures.md)")
def test_vllm_streamed_chat_refuses_a_bad_logit_bias_with_a_400(server):
    response = post(server, "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True,
        "logit_bias": {"999999": 5}})
    assert response.status_code == 400, response.text


@pytest.mark.xfail(strict=True, reason="vLLM: /v1/completions has no API-server hook for a "
                   "plugin; vllm_xargs are checked in the engine, after a stream's 200 "
                   "(docs/vllm-failures.md)")
def test_vllm_streamed_completion_refuses_a_bad_thinking_budget_with_a_400(server):
    response = post(server, "/v1/completions", {
        "prompt": "Hi", "max_tokens": 4, "stream": True,
        "vllm_xargs": {"thinking_budget": "x"}})
    assert response.status_code == 400, response.text


@pytest.mark.xfail(strict=True, reason="vLLM: a grammar error names no field "
                   "(docs/vllm-failures.md)")
def test_vllm_grammar_error_names_the_field(server):
    response = post(server, "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "a", "schema": {"type": "odd"}}}})
    assert response.status_code == 400
    assert "response_format" in response.text, response.text


@pytest.mark.xfail(strict=True, reason="vLLM: a stop sequence inside a required call leaves "
                   "finish_reason tool_calls with no call (docs/vllm-failures.md)")
def test_vllm_finish_reason_tool_calls_has_a_call(server):
    response = post(server, "/v1/chat/completions", {
        "messages": [{"role": "user", "content": "Weather in Paris?"}], "max_tokens": 40,
        "temperature": 0, "tools": [{"type": "function", "function": WEATHER}],
        "tool_choice": "required", "stop": "a",  # "name" has an "a"
        "chat_template_kwargs": {"enable_thinking": False}})
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] != "tool_calls" or choice["message"]["tool_calls"], choice


# Last in the module: it takes the server down while vLLM's CPU build has the bug.
@pytest.mark.xfail(strict=True, reason="vLLM CPU build: a seeded request whose prefill spans "
                   "steps kills the engine, 'CPU Generator does not use offset' "
                   "(docs/vllm-failures.md)")
def test_vllm_cpu_seeded_request_with_a_chunked_prefill(server):
    # ~2400 tokens: more than the CPU server's 2048 batched tokens per step
    prompt = "The quick brown fox jumps over the lazy dog. " * 180
    try:
        post(server, "/v1/chat/completions", {
            "messages": [{"role": "user", "content": prompt}], "max_tokens": 4,
            "temperature": 1.0, "seed": 7})
    except httpx.HTTPError:
        pass
    time.sleep(2)
    assert server.healthy(), server.log_tail(2000)
