"""One chat completion's reply as the tests compare it, whether it came whole or streamed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    reasoning: str = ""
    content: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)  # (name, arguments)
    finish: str | None = None
    usage: Any = None
    tokens: list[str] = field(default_factory=list)  # when the request asked for logprobs
    closed_by: str | None = None  # the choice's `thinking_closed_by` (thinking_budget/reply.py)


def read_reply(response: Any) -> Reply:
    """A non-streamed `ChatCompletion`'s first choice."""
    choice = response.choices[0]
    message = choice.message
    return Reply(getattr(message, "reasoning", None) or "", message.content or "",
                 [(c.function.name, c.function.arguments) for c in message.tool_calls or []],
                 choice.finish_reason, response.usage,
                 [t.token for t in choice.logprobs.content] if choice.logprobs else [],
                 (choice.model_extra or {}).get("thinking_closed_by"))


def fold_stream(chunks: Iterable[Any]) -> Reply:
    """The first choice of a streamed reply, folded; a call's name arrives once, first."""
    reply = Reply()
    names: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for chunk in chunks:
        reply.usage = chunk.usage or reply.usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        reply.finish = choice.finish_reason or reply.finish
        closed_by = (choice.model_extra or {}).get("thinking_closed_by")
        if closed_by is not None:
            assert choice.finish_reason and reply.closed_by is None, "only with finish_reason"
            reply.closed_by = closed_by
        delta = choice.delta
        reply.reasoning += getattr(delta, "reasoning", None) or ""
        reply.content += delta.content or ""
        for call in delta.tool_calls or []:
            if call.function and call.function.name:
                assert call.index not in names, "a function name was sent twice"
                names[call.index] = call.function.name
            if call.function and call.function.arguments:
                arguments[call.index] = arguments.get(call.index, "") + call.function.arguments
        if choice.logprobs and choice.logprobs.content:
            reply.tokens += [t.token for t in choice.logprobs.content]
    reply.calls = [(names[i], arguments.get(i, "")) for i in sorted(names)]
    return reply
