"""How `thinking_closed_by` gets into replies (thinking_budget/reply.py), without an engine; end
to end on every API: tests/thinking_budget/test_answer_reserve_server.py."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

import vllm_nemotron
from vllm_nemotron.after_import import after_import
from vllm_nemotron.thinking_budget import reply


def test_after_import_runs_a_hook_once_the_module_is_imported_or_at_once(tmp_path, monkeypatch):
    (tmp_path / "waited_for_module.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    after_import("waited_for_module", lambda module: seen.append(module.VALUE))
    assert seen == []
    importlib.import_module("waited_for_module")
    assert seen == [7]
    after_import("waited_for_module", lambda module: seen.append(-module.VALUE))
    assert seen == [7, -7]
    sys.modules.pop("waited_for_module")
    importlib.import_module("waited_for_module")
    assert seen == [7, -7]  # once


HOOKS = [(module, hook) for module, hooks in reply.HOOKS.items() for hook in hooks]


@pytest.mark.parametrize("module,hook", HOOKS, ids=[f"{h.cls}.{h.method}" for _, h in HOOKS])
def test_every_reply_builder_of_this_vllm_is_wrapped(module, hook):
    """A vLLM that renamed one would serve replies without the field: this names which. Of
    the two ways to stream chat (0.32's strings, 0.33's `_raw` objects) the one in use is."""
    vllm_nemotron.register()
    target = getattr(importlib.import_module(module), hook.cls)
    replaced = hook.unless is not None and hasattr(target, hook.unless)
    newer_only = any(h.unless == hook.method for h in reply.HOOKS[module])
    if replaced or (newer_only and hook.method not in vars(target)):
        assert getattr(vars(target).get(hook.method), "wrapped_by", None) != reply.__name__
        return
    assert getattr(vars(target)[hook.method], "wrapped_by", None) == reply.__name__


def sse(payload: dict) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


@pytest.mark.parametrize("chunk,verdicts,field_on", [
    ({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, {0: "answer_reserve"},
     [0]),
    ({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"},
                  {"index": 1, "delta": {}, "finish_reason": None}]},
     {0: "thinking_budget", 1: "answer_reserve"}, [0]),
    ({"choices": [{"index": 1, "delta": {}, "finish_reason": "length"}]}, {0: "answer_reserve"},
     []),
])
def test_a_streamed_chunk_gets_the_verdict_with_its_finish_reason(chunk, verdicts, field_on):
    out = reply._with_verdicts(sse(chunk), verdicts)
    choices = json.loads(out.removeprefix("data: "))["choices"]
    assert [c["index"] for c in choices if reply.FIELD in c] == field_on
    for choice in choices:
        if reply.FIELD in choice:
            assert choice[reply.FIELD] == verdicts[choice["index"]]
    if not field_on:
        assert out == sse(chunk)


def test_other_events_pass_unchanged():
    for chunk in ("data: [DONE]\n\n", "data: not json\n\n", ": keep-alive\n\n"):
        assert reply._with_verdicts(chunk, {0: "answer_reserve"}) == chunk


def test_a_chunk_object_gets_the_verdict_with_its_finish_reason():
    """vLLM 0.33 builds chunk objects before it writes them (chat_completion_stream_generator_raw
    ); /v1/messages reads them there."""
    from vllm.entrypoints.openai.chat_completion.protocol import (
        ChatCompletionResponseStreamChoice,
        ChatCompletionStreamResponse,
        DeltaMessage,
    )

    choices = [ChatCompletionResponseStreamChoice(index=i, delta=DeltaMessage(content="x"),
                                                  finish_reason=finish)
               for i, finish in ((0, "stop"), (1, None))]
    chunk = ChatCompletionStreamResponse(id="c", created=1, model="m", choices=choices)
    out = reply._with_verdicts(chunk, {0: "answer_reserve", 1: "thinking_budget"})
    dumped = json.loads(out.model_dump_json(exclude_unset=True))
    assert [c.get(reply.FIELD) for c in dumped["choices"]] == ["answer_reserve", None]
    assert reply._chunk_verdicts(out) == ["answer_reserve"]
    assert reply._chunk_verdicts(out.model_dump_json()) == []  # not an event string
    assert reply._chunk_verdicts(f"data: {out.model_dump_json()}\n\n") == ["answer_reserve"]
