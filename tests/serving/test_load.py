"""Load: 64 concurrent streamed requests mixing plain answers, reasoning and tool calls.

Every response must be complete and well formed (the scripted text comes back exactly,
split into reasoning, content and tool calls), no request may fail, and the server must be
healthy afterwards.
"""

from __future__ import annotations

import asyncio
import json

import pytest

pytestmark = pytest.mark.slow

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]


def case(i: int) -> dict:
    """Request i of the mix: (script, expected reasoning, content, tool call arguments)."""
    kind = i % 4
    if kind == 0:
        return dict(script=f"Think {i}.</think>Answer {i}.", reasoning=f"Think {i}.",
                    content=f"Answer {i}.", call=None, tools=False, thinking=True)
    if kind == 1:
        return dict(script=f"Answer {i}, no thinking.", reasoning="",
                    content=f"Answer {i}, no thinking.", call=None, tools=False, thinking=False)
    args = {"city": f"City {i}", "days": i}
    call = '<TOOLCALL>[{"name": "get_weather", "arguments": ' + json.dumps(args) + "}]</TOOLCALL>"
    if kind == 2:
        return dict(script=f"Weather {i}.</think>" + call, reasoning=f"Weather {i}.",
                    content="", call=args, tools=True, thinking=True)
    return dict(script=f"Long {i} " * 20 + "</think>" + "Done " * 10,
                reasoning=(f"Long {i} " * 20).strip(),
                content=("Done " * 10).strip(), call=None, tools=True, thinking=True)


async def stream_one(client, model: str, i: int) -> tuple[dict, dict]:
    spec = case(i)
    kwargs = dict(tools=TOOLS) if spec["tools"] else {}
    stream = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": f"Request {i}"}], stream=True,
        max_tokens=400, extra_body={"vllm_xargs": {"script": spec["script"]},
                                    "chat_template_kwargs": {"enable_thinking": spec["thinking"]}},
        **kwargs)
    got = dict(reasoning="", content="", calls={}, finish=None)
    async for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        got["reasoning"] += getattr(delta, "reasoning", None) or (delta.model_extra or {}).get(
            "reasoning") or ""
        got["content"] += delta.content or ""
        for tc in delta.tool_calls or []:
            entry = got["calls"].setdefault(tc.index, {"name": "", "arguments": ""})
            if tc.function and tc.function.name:
                entry["name"] += tc.function.name
            if tc.function and tc.function.arguments:
                entry["arguments"] += tc.function.arguments
        got["finish"] = chunk.choices[0].finish_reason or got["finish"]
    return spec, got


def test_64_concurrent_streams_mixing_tools_and_reasoning(plugin_server):
    async def run():
        client = plugin_server.async_client()
        try:
            return await asyncio.gather(*(stream_one(client, plugin_server.model, i)
                                          for i in range(64)), return_exceptions=True)
        finally:
            await client.close()

    results = asyncio.run(run())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} failed, first: {errors[0]!r}\n{plugin_server.log_tail()}"
    for spec, got in results:
        assert got["reasoning"].strip() == spec["reasoning"], (spec, got)
        assert got["content"].strip() == spec["content"], (spec, got)
        if spec["call"] is None:
            assert got["calls"] == {} and got["finish"] == "stop", (spec, got)
        else:
            assert [c["name"] for c in got["calls"].values()] == ["get_weather"], (spec, got)
            assert json.loads(got["calls"][0]["arguments"]) == spec["call"], (spec, got)
            assert got["finish"] == "tool_calls", (spec, got)
    assert plugin_server.healthy()
