"""`llama_nemotron_json` tool parser (Llama-3.1-Nemotron-Nano-4B-v1.1, Super, Ultra).

Forms inside `<TOOLCALL>...</TOOLCALL>` (text before and after is content):
- JSON: `[{"name": ..., "arguments": {...}}, ...]`, or one bare object; `"parameters"` for
  `"arguments"`; arguments as an object or a JSON string holding one.
- pythonic (the Ultra/Super BFCL prompts): `[get_weather(city="Paris"), f(x=None)]`,
  keyword arguments with literal values only (`ast.literal_eval`, never `eval`).
`</TOOLCALL>` may be missing when the output ends (or goes on) right after the call list.

One incremental scanner does both paths: non-streaming feeds it the whole output at once,
so streaming (any chunking) gives the same calls and content. JSON arguments stream as
they arrive, as raw text that concatenates to exactly the final `arguments` string;
streaming reads each delta once, so its total cost is linear in the output length.

Anything malformed or not a call is returned unchanged as content. One case cannot be the
same both ways: if a block breaks after one of its calls was already streamed (output cut
off inside the arguments, or garbage after a call), non-streaming returns the whole output
as content, while the stream cannot take back those deltas and sends the rest as content.

Self-contained (imports only vLLM), so the file also works as
`--tool-parser-plugin parsers/llama_nemotron_json_tool_parser.py`.
"""

from __future__ import annotations

import ast
import json
import re
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
from vllm.logger import init_logger
from vllm.renderers.chat_utils import make_tool_call_id
from vllm.tool_parsers.abstract_tool_parser import ToolParser, ToolParserManager

logger = init_logger(__name__)

CALL_START = "<TOOLCALL>"
CALL_END = "</TOOLCALL>"

_WS = " \t\r\n"
_STRING_STOP = re.compile(r'["\\]')
_NESTED_STOP = re.compile(r'[{}\[\]"\\]')
_SCALAR = re.compile(r"[A-Za-z0-9.+\-]*")
_ARGS_KEYS = ("arguments", "parameters")


def _held_prefix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


class _Malformed(Exception):
    """The block is not a call list; raised inside the scanner only."""


class ToolCallScanner:
    """Incremental scanner: `feed(text)` / `finish()` return events.

    Events: ("text", s) content; ("call", i, name) a call starts; ("args", i, s) more
    arguments text; ("end", i, arguments) a call is complete; ("broken",) a block broke
    after one of its calls was announced.
    """

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.n_calls = 0
        self.held = ""  # TEXT: a possible start of CALL_START
        self._text_mode()

    # --- top level -------------------------------------------------------------------

    def _text_mode(self) -> None:
        self.in_block = False

    def _open_block(self) -> None:
        self.in_block = True
        self.block_raw: list[str] = [CALL_START]  # everything since CALL_START
        self.block_len = len(CALL_START)
        self.call_end_at = 0  # offset in the block where the last complete call ended
        self.calls_in_block = 0
        self.state = "form"
        self.bare = False
        self.pending = ""  # text after the list that may still be CALL_END
        self._new_object()

    def _new_object(self) -> None:
        self.key: str | None = None
        self.name: str | None = None
        self.args_parts: list[str] = []
        self.args_seen = False
        self.call_index: int | None = None
        self.str_parts: list[str] = []
        self.str_escape = False
        self.depth = 0
        self.nested_in_str = False
        self.nested_escape = False

    def feed(self, text: str) -> list[tuple]:
        self.events = []
        while text:
            if self.in_block:
                text = self._feed_block(text)
            else:
                text = self._feed_text(text)
        return self.events

    def finish(self) -> list[tuple]:
        self.events = []
        if not self.in_block:
            self._emit_text(self.held)
            self.held = ""
            return self.events
        if self.state == "py":
            self._close_pythonic("".join(self.py_parts), closed=False)
        elif self.state == "closed":
            self._emit_text(self.pending)
            self._text_mode()
        else:
            self._fail()
        return self.events

    def _emit_text(self, s: str) -> None:
        if s:
            self.events.append(("text", s))

    def _feed_text(self, text: str) -> str:
        text = self.held + text
        self.held = ""
        start = text.find(CALL_START)
        if start == -1:
            keep = _held_prefix(text, CALL_START)
            self._emit_text(text[: len(text) - keep])
            self.held = text[len(text) - keep :] if keep else ""
            return ""
        self._emit_text(text[:start])
        self._open_block()
        return text[start + len(CALL_START) :]

    # --- block --------------------------------------------------------------------------

    def _feed_block(self, text: str) -> str:
        """Consume block text; return what follows the block (to scan as text)."""
        if self.state == "py":
            return self._feed_pythonic(text)
        if self.state == "closed":
            return self._feed_after_list(text)
        self.scan_base = self.block_len
        try:
            used = self._scan_json(text)
        except _Malformed as error:
            used = error.args[0]
            self._record(text[:used])
            self._fail()
            return text[used:]
        self._record(text[:used])
        if self.state == "py":
            self.py_parts = ["".join(self.block_raw)[len(CALL_START) :]]
            self.py_tail = ""
            return self._feed_pythonic(text[used:])
        if self.state == "closed":
            return self._feed_after_list(text[used:])
        return text[used:]

    def _record(self, raw: str) -> None:
        if raw:
            self.block_raw.append(raw)
            self.block_len += len(raw)

    def _fail(self) -> None:
        """Malformed block: its text (all of it, or what follows the streamed calls) is content."""
        raw = "".join(self.block_raw)
        if self.calls_in_block:
            self.events.append(("broken",))
            raw = raw[self.call_end_at :]
        self._emit_text(raw)
        self._text_mode()

    def _feed_after_list(self, text: str) -> str:
        """After the list: optional whitespace, then CALL_END, or other text (content)."""
        text = self.pending + text
        self.pending = ""
        stripped = text.lstrip(_WS)
        if stripped.startswith(CALL_END):
            self._text_mode()
            return stripped[len(CALL_END) :]
        if stripped and not CALL_END.startswith(stripped):
            self._text_mode()
            return text
        self.pending = text
        return ""

    # --- JSON form ----------------------------------------------------------------------

    def _scan_json(self, text: str) -> int:
        """Advance the JSON state machine over `text`; return how much was used."""
        i, n = 0, len(text)
        while i < n:
            state = self.state
            if state in ("string", "nested"):
                i = self._scan_value(text, i)
                continue
            if state == "args":
                i = self._skip_nested(text, i, emit=True)
                continue
            c = text[i]
            if state == "scalar":
                m = _SCALAR.match(text, i)
                i = m.end()
                if i < n:
                    self.state = "after_value"
                continue
            if c in _WS:
                i += 1
                continue
            i += 1
            if state == "form":
                if c == "[":
                    self.state = "list_open"
                elif c == "{":
                    self.bare = True
                    self._start_object()
                else:
                    raise _Malformed(i)
            elif state == "list_open":
                if c == "{":
                    self._start_object()
                elif c.isalpha() or c == "_":
                    self.state = "py"
                    return i
                else:
                    raise _Malformed(i)
            elif state == "list_next":
                if c != "{":
                    raise _Malformed(i)
                self._start_object()
            elif state == "list_after":
                if c == ",":
                    self.state = "list_next"
                elif c == "]":
                    self.state = "closed"
                    return i
                else:
                    raise _Malformed(i)
            elif state == "key":
                if c != '"':
                    raise _Malformed(i)
                self._start_string("key")
            elif state == "colon":
                if c != ":":
                    raise _Malformed(i)
                self.state = "value"
            elif state == "value":
                self._start_value(c, i)
            elif state == "after_value":
                if c == ",":
                    self.state = "key"
                elif c == "}":
                    self._end_object(i)
                    if self.state == "closed":
                        return i
                else:
                    raise _Malformed(i)
        return i

    def _start_object(self) -> None:
        self._new_object()
        self.state = "key"

    def _start_string(self, purpose: str) -> None:
        self.state = "string"
        self.purpose = purpose
        self.str_parts = ['"']
        self.str_escape = False

    def _start_value(self, c: str, i: int) -> None:
        key = self.key
        if key == "name":
            if c != '"' or self.name is not None:
                raise _Malformed(i)
            self._start_string("name")
        elif key in _ARGS_KEYS:
            if self.args_seen:
                raise _Malformed(i)
            self.args_seen = True
            if c == "{":
                self.state = "args"
                self.depth = 1
                self.nested_in_str = False
                self.nested_escape = False
                if self.name is not None:
                    self._announce()
                self._args_piece("{")
            elif c == '"':
                self._start_string("args")
            else:
                raise _Malformed(i)
        elif c == '"':
            self._start_string("skip")
        elif c in "{[":
            self.state = "nested"
            self.depth = 1
            self.nested_in_str = False
            self.nested_escape = False
        else:
            # Scalars (numbers, true/false/null) of keys we ignore.
            self.state = "scalar"

    def _scan_value(self, text: str, i: int) -> int:
        """Strings (keys, names, ignored values) and ignored nested values."""
        if self.state == "string":
            while i < len(text):
                if self.str_escape:
                    self.str_parts.append(text[i])
                    self.str_escape = False
                    i += 1
                    continue
                m = _STRING_STOP.search(text, i)
                if m is None:
                    self.str_parts.append(text[i:])
                    return len(text)
                j = m.start()
                self.str_parts.append(text[i : j + 1])
                i = j + 1
                if text[j] == "\\":
                    self.str_escape = True
                else:
                    self._end_string(i)
                    return i
            return i
        # nested ignored value
        i = self._skip_nested(text, i, emit=False)
        return i

    def _skip_nested(self, text: str, i: int, emit: bool) -> int:
        start = i
        while i < len(text):
            if self.nested_escape:
                self.nested_escape = False
                i += 1
                continue
            pattern = _STRING_STOP if self.nested_in_str else _NESTED_STOP
            m = pattern.search(text, i)
            if m is None:
                i = len(text)
                break
            j, c = m.start(), text[m.start()]
            i = j + 1
            if c == "\\":
                if self.nested_in_str:
                    self.nested_escape = True
                # A backslash outside strings is invalid JSON; json.loads catches it later.
            elif c == '"':
                self.nested_in_str = not self.nested_in_str
            elif c in "{[":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 0:
                    if emit:
                        self._args_piece(text[start:i])
                        self._end_args(i)
                    else:
                        self.state = "after_value"
                    return i
        if emit:
            self._args_piece(text[start:i])
        return i

    def _end_string(self, i: int) -> None:
        raw = "".join(self.str_parts)
        try:
            value = json.loads(raw)
        except ValueError:
            raise _Malformed(i) from None
        purpose = self.purpose
        self.state = "after_value"
        if purpose == "key":
            self.key = value
            self.state = "colon"
        elif purpose == "name":
            if not value:
                raise _Malformed(i)
            self.name = value
            if self.args_seen:
                self._announce()
        elif purpose == "args":
            try:
                parsed = json.loads(value)
            except ValueError:
                raise _Malformed(i) from None
            if not isinstance(parsed, dict):
                raise _Malformed(i)
            if self.name is not None:
                self._announce()
            self._args_piece(value)
            self._finish_args()

    def _announce(self) -> None:
        """A call goes out once its name is known and its arguments started as an object."""
        self.call_index = self.n_calls
        self.n_calls += 1
        self.calls_in_block += 1
        self.announced = True
        self.events.append(("call", self.call_index, self.name))
        if self.args_parts:
            self.events.append(("args", self.call_index, "".join(self.args_parts)))

    def _args_piece(self, s: str) -> None:
        if not s:
            return
        self.args_parts.append(s)
        if self.call_index is not None:
            self.events.append(("args", self.call_index, s))

    def _end_args(self, i: int) -> None:
        try:
            parsed = json.loads("".join(self.args_parts))
        except ValueError:
            raise _Malformed(i) from None
        if not isinstance(parsed, dict):
            raise _Malformed(i)
        self._finish_args()

    def _finish_args(self) -> None:
        self.state = "after_value"
        self.args_parts = ["".join(self.args_parts)]

    def _end_object(self, i: int) -> None:
        if self.name is None:
            raise _Malformed(i)
        if self.call_index is None:
            self._announce()
        if not self.args_seen:
            self._args_piece("{}")
        arguments = "".join(self.args_parts)
        self.events.append(("end", self.call_index, arguments))
        self.call_end_at = self.scan_base + i
        self.state = "closed" if self.bare else "list_after"

    # --- pythonic form --------------------------------------------------------------------

    def _feed_pythonic(self, text: str) -> str:
        """Buffer the pythonic body until CALL_END (looked for in the new text only)."""
        combined = self.py_tail + text
        end = combined.find(CALL_END)
        if end == -1:
            self.py_parts.append(text)
            self.py_tail = combined[-(len(CALL_END) - 1) :]
            return ""
        body = "".join(self.py_parts) + text
        body = body[: len(body) - len(combined) + end]
        self._close_pythonic(body, closed=True)
        return combined[end + len(CALL_END) :]

    def _close_pythonic(self, body: str, closed: bool) -> None:
        calls = _parse_pythonic(body)
        if calls is None:
            self._emit_text(CALL_START + body + (CALL_END if closed else ""))
        else:
            for name, arguments in calls:
                index = self.n_calls
                self.n_calls += 1
                self.events.append(("call", index, name))
                self.events.append(("args", index, arguments))
                self.events.append(("end", index, arguments))
        self._text_mode()


def _parse_pythonic(body: str) -> list[tuple[str, str]] | None:
    """`[f(a=1), g()]` -> [(name, JSON arguments)], or None when it is not such a list."""
    try:
        tree = ast.parse(body.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not isinstance(tree, ast.List) or not tree.elts:
        return None
    calls = []
    for node in tree.elts:
        if not isinstance(node, ast.Call) or node.args:
            return None
        name = _dotted_name(node.func)
        if name is None or any(k.arg is None for k in node.keywords):
            return None
        try:
            arguments = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            calls.append((name, json.dumps(arguments, ensure_ascii=False)))
        except (ValueError, TypeError, SyntaxError, RecursionError):
            return None
    return calls


def _dotted_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


class LlamaNemotronJsonToolParser(ToolParser):
    """`<TOOLCALL>` JSON / pythonic tool calls; see the module docstring for the rules."""

    # Our own per-request state reads only each delta's new text; the serving layer then
    # also calls `finish_streaming` at the end of the stream (no text is left held back).
    engine_based_streaming = True

    def __init__(self, tokenizer: Any, tools: list | None = None):
        super().__init__(tokenizer, tools)
        self._scanner = ToolCallScanner()
        self._ids: dict[int, str] = {}

    def adjust_request(self, request: Any) -> Any:
        request = super().adjust_request(request)
        if request.tools and request.tool_choice != "none" and self._tag_is_skipped():
            # `<TOOLCALL>` is a special token in some tokenizers: keep it in the text.
            request.skip_special_tokens = False
        return request

    def _tag_is_skipped(self) -> bool:
        token_id = self.vocab.get(CALL_START)
        if token_id is None:
            return False
        return self.model_tokenizer.decode([token_id], skip_special_tokens=True) == ""

    def extract_tool_calls(self, model_output: str, request: Any) -> ExtractedToolCallInformation:
        scanner = ToolCallScanner()
        events = scanner.feed(model_output) + scanner.finish()
        calls = [
            ToolCall(id=make_tool_call_id(), function=FunctionCall(name=e[2], arguments=""))
            for e in events
            if e[0] == "call"
        ]
        ended = {e[1]: e[2] for e in events if e[0] == "end"}
        if not calls or len(ended) != len(calls) or any(e[0] == "broken" for e in events):
            return ExtractedToolCallInformation(
                tools_called=False, tool_calls=[], content=model_output
            )
        for index, call in enumerate(calls):
            call.function.arguments = ended[index]
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
        content: list[str] = []
        deltas: dict[int, DeltaToolCall] = {}
        for event in events:
            kind = event[0]
            if kind == "text":
                content.append(event[1])
            elif kind == "call":
                index, name = event[1], event[2]
                self._ids[index] = make_tool_call_id()
                deltas[index] = DeltaToolCall(
                    index=index,
                    id=self._ids[index],
                    type="function",
                    function=DeltaFunctionCall(name=name, arguments=""),
                )
                self.prev_tool_call_arr.append({"name": name, "arguments": ""})
                self.streamed_args_for_tool.append("")
                self.current_tool_id = index
            elif kind == "args":
                index = event[1]
                delta = deltas.setdefault(
                    index,
                    DeltaToolCall(index=index, function=DeltaFunctionCall(arguments="")),
                )
                delta.function.arguments += event[2]
            elif kind == "end":
                # Kept equal, so vLLM's end-of-stream top-up finds nothing unsent.
                self.prev_tool_call_arr[event[1]]["arguments"] = event[2]
                self.streamed_args_for_tool[event[1]] = event[2]
        if not content and not deltas:
            return None
        return DeltaMessage(content="".join(content) or None, tool_calls=list(deltas.values()))


ToolParserManager.register_module(name="llama_nemotron_json", module=LlamaNemotronJsonToolParser)
