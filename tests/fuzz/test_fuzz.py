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

import httpx
import pytest

from tests.fuzz.requests import generate
from tests.fuzz.run import Report, print_report, run_cases, server_args
from tests.harness.server import OpenAIServer

pytestmark = pytest.mark.slow

SEED, COUNT = 24, 100  # about 45 s of requests on the CPU server


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
