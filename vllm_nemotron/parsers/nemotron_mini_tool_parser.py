"""`nemotron_mini` tool parser (Nemotron-Mini-4B-Instruct).

The model writes `<toolcall> {"name": ..., "arguments": {...}} </toolcall>` (several blocks,
or a list in one block, are accepted; `"parameters"` for `"arguments"`; arguments may be a
JSON string). Text outside the blocks is content; a block that does not hold calls comes
back unchanged as content; a missing `</toolcall>` at the end of the output is tolerated.

Each block is short, so it is held until it closes and then parsed once: every call goes
out whole (name and arguments in one delta), and streaming equals non-streaming for every
input and chunking. Only the new text of each delta is scanned (linear cost).
Self-contained (imports only vLLM), so the file also works as
`--tool-parser-plugin parsers/nemotron_mini_tool_parser.py`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vllm.entrypoints.generate.base.protocol import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
)
from vllm.renderers.chat_utils import make_tool_call_id
from vllm.tool_parsers.abstract_tool_parser import ToolParser, ToolParserManager

CALL_START = "<toolcall>"
CALL_END = "</toolcall>"


def _held_prefix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


def parse_block(body: str) -> list[tuple[str, str]] | None:
    """A block body -> [(name, JSON arguments)], or None when it holds no valid call."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        if not item["name"] or ("arguments" in item and "parameters" in item):
            return None
        arguments = item.get("arguments", item.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                if not isinstance(json.loads(arguments), dict):
                    return None
            except ValueError:
                return None
        elif isinstance(arguments, dict):
            arguments = json.dumps(arguments, ensure_ascii=False)
        else:
            return None
        calls.append((item["name"], arguments))
    return calls or None


class BlockScanner:
    """Incremental `<toolcall>` splitter: `feed` / `finish` return ("text", s) and
    ("call", name, arguments) events."""

    def __init__(self) -> None:
        self.in_block = False
        self.held = ""  # a possible start of the next tag
        self.body: list[str] = []

    def feed(self, text: str) -> list[tuple]:
        events: list[tuple] = []
        while text:
            tag = CALL_END if self.in_block else CALL_START
            text = self.held + text
            self.held = ""
            at = text.find(tag)
            if at == -1:
                keep = _held_prefix(text, tag)
                self._take(text[: len(text) - keep], events)
                self.held = text[len(text) - keep :] if keep else ""
                break
            self._take(text[:at], events)
            if self.in_block:
                self._close(events, closed=True)
            else:
                self.in_block = True
                self.body = []
            text = text[at + len(tag) :]
        return events

    def finish(self) -> list[tuple]:
        events: list[tuple] = []
        self._take(self.held, events)
        self.held = ""
        if self.in_block:
            self._close(events, closed=False)
        return events

    def _take(self, text: str, events: list[tuple]) -> None:
        if not text:
            return
        if self.in_block:
            self.body.append(text)
        else:
            events.append(("text", text))

    def _close(self, events: list[tuple], closed: bool) -> None:
        body = "".join(self.body)
        calls = parse_block(body)
        if calls is None:
            events.append(("text", CALL_START + body + (CALL_END if closed else "")))
        else:
            events.extend(("call", name, arguments) for name, arguments in calls)
        self.in_block = False
        self.body = []


class NemotronMiniToolParser(ToolParser):
    """`<toolcall>{...}</toolcall>` tool calls of Nemotron-Mini-4B-Instruct."""

    # Keeps per-request state and reads only each delta's new text; the serving layer
    # calls `finish_streaming` at the end of the stream to release a held block.
    engine_based_streaming = True

    def __init__(self, tokenizer: Any, tools: list | None = None):
        super().__init__(tokenizer, tools)
        self._scanner = BlockScanner()

    def adjust_request(self, request: Any) -> Any:
        request = super().adjust_request(request)
        token_id = self.vocab.get(CALL_START)
        if (
            request.tools
            and request.tool_choice != "none"
            and token_id is not None
            and self.model_tokenizer.decode([token_id], skip_special_tokens=True) == ""
        ):
            # `<toolcall>` is a special token here: keep it in the text we parse.
            request.skip_special_tokens = False
        return request

    def extract_tool_calls(self, model_output: str, request: Any) -> ExtractedToolCallInformation:
        scanner = BlockScanner()
        events = scanner.feed(model_output) + scanner.finish()
        calls = [
            ToolCall(id=make_tool_call_id(), function=FunctionCall(name=e[1], arguments=e[2]))
            for e in events
            if e[0] == "call"
        ]
        if not calls:
            return ExtractedToolCallInformation(
                tools_called=False, tool_calls=[], content=model_output
            )
        content = "".join(e[1] for e in events if e[0] == "text")
        return ExtractedToolCallInformation(
            tools_called=True, tool_calls=calls, content=content or None
        )

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: Any,
    ) -> DeltaMessage | None:
        return self._message(self._scanner.feed(delta_text))

    def finish_streaming(self) -> DeltaMessage | None:
        return self._message(self._scanner.finish())

    def _message(self, events: list[tuple]) -> DeltaMessage | None:
        content = "".join(e[1] for e in events if e[0] == "text")
        tool_calls = []
        for _, name, arguments in (e for e in events if e[0] == "call"):
            index = len(self.prev_tool_call_arr)
            self.prev_tool_call_arr.append({"name": name, "arguments": arguments})
            self.streamed_args_for_tool.append(arguments)
            self.current_tool_id = index
            tool_calls.append(
                DeltaToolCall(
                    index=index,
                    id=make_tool_call_id(),
                    type="function",
                    function=DeltaFunctionCall(name=name, arguments=arguments),
                )
            )
        if not content and not tool_calls:
            return None
        return DeltaMessage(content=content or None, tool_calls=tool_calls)


ToolParserManager.register_module(name="nemotron_mini", module=NemotronMiniToolParser)
