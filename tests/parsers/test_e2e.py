"""End to end through the CPU OpenAI server and the `openai` client, streamed and not.

The tiny random Nemotron-H model is forced to say a chosen text by the harness's scripted
logits processor; the session's plugin server (tests/conftest.py) loads our parser files as
drop-in plugins (the model-card way), with the Nemotron-3-Nano template that opens `<think>`
in the prompt.
"""

from __future__ import annotations

import json

import pytest

from tests.harness.replies import fold_stream, read_reply

pytestmark = pytest.mark.slow

TOOLS = [{"type": "function", "function": {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
SCRIPT = ('Paris is the capital.</think>Let me check. '
          '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</TOOLCALL>')


@pytest.fixture(scope="module")
def server(plugin_server):
    return plugin_server


@pytest.fixture(scope="module")
def tokenizer(tiny_hybrid):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_hybrid))


def ask(server, stream: bool, xargs: dict, **kw):
    client = server.client()
    common = dict(model=client.models.list().data[0].id,
                  messages=[{"role": "user", "content": "Weather in Paris?"}],
                  tools=TOOLS, max_tokens=200, temperature=0.0,
                  extra_body={"vllm_xargs": xargs, **kw})
    if not stream:
        reply = read_reply(client.chat.completions.create(**common))
    else:
        reply = fold_stream(client.chat.completions.create(
            **common, stream=True, stream_options={"include_usage": True}))
    return reply.reasoning, reply.content, reply.calls, reply.finish, reply.usage


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_content_and_tool_call(server, stream):
    reasoning, content, calls, finish, usage = ask(server, stream, {"script": SCRIPT})
    assert reasoning == "Paris is the capital."
    assert content.strip() == "Let me check."
    assert [(n, json.loads(a)) for n, a in calls] == [("get_weather", {"city": "Paris"})]
    assert finish == "tool_calls"
    assert usage.completion_tokens_details.reasoning_tokens > 0


@pytest.mark.parametrize("stream", [False, True])
def test_tags_split_into_pieces(server, tokenizer, stream):
    """`</think>` and `<TOOLCALL>` arrive as several ordinary tokens, not the tag tokens."""
    enc = lambda s: tokenizer.encode(s, add_special_tokens=False)  # noqa: E731
    ids = (enc("Hmm.") + enc("</") + enc("think") + enc(">") + enc("Ok ") + enc("<TOOL")
           + enc("CALL>") + enc('[{"name": "get_weather", "arguments": {"city": "Rome"}}]'))
    assert tokenizer.convert_tokens_to_ids("</think>") not in ids
    reasoning, content, calls, _, _ = ask(server, stream, {"script_ids": ids})
    assert (reasoning, content.strip()) == ("Hmm.", "Ok")
    assert [(n, json.loads(a)) for n, a in calls] == [("get_weather", {"city": "Rome"})]


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_off_is_all_content(server, stream):
    text = "No reasoning here.</think> Plain."
    reasoning, content, calls, _, _ = ask(
        server, stream, {"script": text}, chat_template_kwargs={"enable_thinking": False})
    assert (reasoning, content, calls) == ("", text, [])


@pytest.mark.parametrize("stream", [False, True])
def test_cut_off_inside_reasoning_and_malformed_call(server, stream):
    reasoning, content, calls, _, _ = ask(server, stream, {"script": "Still thinking about"})
    assert (reasoning, content, calls) == ("Still thinking about", "", [])
    bad = "r</think><TOOLCALL>[{oops}]</TOOLCALL>"
    reasoning, content, calls, finish, _ = ask(server, stream, {"script": bad})
    assert (reasoning, content, calls) == ("r", "<TOOLCALL>[{oops}]</TOOLCALL>", [])
    assert finish == "stop"
