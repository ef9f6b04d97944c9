"""Load: 64 concurrent streamed requests mixing plain answers, reasoning, tool calls and
thinking budgets.

Every response must be complete and well formed (the scripted text comes back exactly,
split into reasoning, content and tool calls; budgeted requests, which the random model
answers freely, think no longer than their budget allows), no request may fail, and the
server must be healthy afterwards.
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
    kind = i % 5
    if kind == 4:  # not scripted: the model thinks until the budget closes its thought
        return dict(script=None, budget=2 + i % 7, call=None, tools=False, thinking=True)
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
    xargs = ({"script": spec["script"]} if spec["script"] is not None
             else {"thinking_budget": spec["budget"], "thinking_budget_grace": 0})
    stream = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": f"Request {i}"}], stream=True,
        max_tokens=400 if spec["script"] is not None else 48,
        stream_options={"include_usage": True},
        extra_body={"vllm_xargs": xargs,
                    "chat_template_kwargs": {"enable_thinking": spec["thinking"]}},
        **kwargs)
    got = dict(reasoning="", content="", calls={}, finish=None, reasoning_tokens=None)
    async for chunk in stream:
        if chunk.usage is not None and chunk.usage.completion_tokens_details is not None:
            got["reasoning_tokens"] = chunk.usage.completion_tokens_details.reasoning_tokens
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
    budgeted = [(spec, got) for spec, got in results if spec["script"] is None]
    assert len(budgeted) == 12
    for spec, got in budgeted:
        # the end-of-thinking sequence "\n</think>\n\n" adds one reasoning token ("\n")
        assert got["reasoning_tokens"] is not None, got
        assert got["reasoning_tokens"] <= spec["budget"] + 1, (spec, got)
        assert got["finish"] in ("stop", "length"), got
    for spec, got in results:
        if spec["script"] is None:
            continue
        assert got["reasoning"].strip() == spec["reasoning"], (spec, got)
        assert got["content"].strip() == spec["content"], (spec, got)
        if spec["call"] is None:
            assert got["calls"] == {} and got["finish"] == "stop", (spec, got)
        else:
            assert [c["name"] for c in got["calls"].values()] == ["get_weather"], (spec, got)
            assert json.loads(got["calls"][0]["arguments"]) == spec["call"], (spec, got)
            assert got["finish"] == "tool_calls", (spec, got)
    assert plugin_server.healthy()
