"""The Nemotron-3-Super recipe's parsers, with the plugin installed and no downloaded file:
`--reasoning-parser super_v3 --tool-call-parser nemotron3_xml`, on the CPU server.
(NVIDIA's own command line names vLLM's `qwen3_coder`, which reads the same format but loses
a call without its last `</parameter>`, issue 23; test_reasoning.py runs `super_v3` with it.)

The tiny Nemotron-H model uses the Nemotron-3-Nano template, whose generation prompt is
Super's (`<think>\\n` opened, `<think></think>` with thinking off); the harness's scripted
logits processor makes it say each case's text. Every case runs streamed and not, all at once.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.harness.replies import fold_stream, read_reply
from tests.harness.server import OpenAIServer

pytestmark = pytest.mark.slow

ARGS = [
    "--enable-auto-tool-choice", "--tool-call-parser", "nemotron3_xml",
    "--reasoning-parser", "super_v3",
    "--logits-processors", "tests.harness.scripted:ScriptedOutput",
    "--no-enable-prefix-caching",  # CPU-build Mamba bug, see tests/conftest.py
]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
THOUGHT = "I should check the weather.\n"
XML = ("<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n"
       "</tool_call>")
# what the Nemotron 3 models write (llama.cpp PR 18077): no </parameter> on the last parameter
NO_LAST_CLOSE = ("<tool_call>\n<function=get_weather>\n<parameter=city>\nCairo\n</function>\n"
                 "</tool_call>")
CAIRO = [("get_weather", {"city": "Cairo"})]

# (case, script, request fields, reasoning, content, calls)
CASES = [
    # a call straight from the thought, with no </think>: Super's untidy output
    ("call from the thought", THOUGHT + XML, {}, THOUGHT.strip(), "",
     [("get_weather", {"city": "Paris"})]),
    # issue 23: a call without its last </parameter>, straight from the thought
    ("no last </parameter>", THOUGHT + NO_LAST_CLOSE, {}, THOUGHT.strip(), "", CAIRO),
    # ... and a bare <function=...> block after </think>, with no closing tag at all
    ("bare block, no closing tags", THOUGHT + "</think><function=get_weather>\n"
     "<parameter=city>\nCairo", {}, THOUGHT.strip(), "", CAIRO),
    # a forced call: vLLM's JSON call-list grammar after the thought, read as the call
    ("required", THOUGHT + '</think>[{"name":"get_weather","parameters":{"city":"Cairo"}}]',
     {"tool_choice": "required"}, THOUGHT.strip(), "", CAIRO),
    # reasoning_effort "none" closes thinking in the template: the plain answer is content
    # (NVIDIA's file, not streamed, returns it as reasoning with content null)
    ("effort none", "Paris.", {"reasoning_effort": "none"}, "", "Paris.", []),
    # thinking off, and the model re-emits an empty think block
    ("thinking off", "<think></think>Paris.",
     {"chat_template_kwargs": {"enable_thinking": False}}, "", "Paris.", []),
    # cut off while thinking, with force_nonempty_content: the thought is also the answer
    ("force_nonempty_content", "Only a thought",
     {"chat_template_kwargs": {"force_nonempty_content": True}}, "Only a thought",
     "Only a thought", []),
]


@pytest.fixture(scope="module")
def server(tiny_hybrid):
    with OpenAIServer(tiny_hybrid, ARGS, env={"VLLM_CPU_KVCACHE_SPACE": "1"}) as srv:
        yield srv


def ask(server, script: str, fields: dict, stream: bool):
    client = server.client()
    extra = {k: v for k, v in fields.items() if k != "reasoning_effort"}
    common = dict(model=server.model, messages=[{"role": "user", "content": "Weather in Paris?"}],
                  tools=TOOLS, max_tokens=100, temperature=0.0,
                  extra_body={"vllm_xargs": {"script": script}, **extra})
    if "reasoning_effort" in fields:
        common["reasoning_effort"] = fields["reasoning_effort"]
    if not stream:
        return read_reply(client.chat.completions.create(**common))
    return fold_stream(client.chat.completions.create(
        **common, stream=True, stream_options={"include_usage": True}))


def test_super_v3_with_nemotron3_xml(server):
    jobs = [(case, stream) for case in CASES for stream in (False, True)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        replies = list(pool.map(lambda job: ask(server, job[0][1], job[0][2], job[1]), jobs))
    for ((name, _, _, reasoning, content, calls), stream), reply in zip(jobs, replies):
        where = (name, "streamed" if stream else "whole")
        assert (reply.reasoning, reply.content.strip()) == (reasoning, content), where
        assert [(n, json.loads(a)) for n, a in reply.calls] == calls, where
        assert reply.finish == ("tool_calls" if calls else "stop"), where
        thought_tokens = reply.usage.completion_tokens_details.reasoning_tokens
        assert (thought_tokens > 0) == bool(reasoning), where
