"""`llama_nemotron_json` tool parser (Llama-3.1-Nemotron-Nano-4B-v1.1, Super, Ultra, Nano-9B-v2).

Forms inside `<TOOLCALL>...</TOOLCALL>` (text before and after is content):
- JSON: `[{"name": ..., "arguments": {...}}, ...]`, or one bare object; `"parameters"` for
  `"arguments"`; arguments as an object or a JSON string holding one.
- pythonic (the Ultra/Super BFCL prompts): `[get_weather(city="Paris"), f(x=None)]`,
  keyword arguments with literal values only (vLLM's `handle_single_tool`, never `eval`).
`</TOOLCALL>` may be missing when the output ends (or goes on) right after the call list.

`tool_choice` "required" or a named function constrains the output to this same format, a
`<TOOLCALL>` block of vLLM's call-list JSON schema (xgrammar structural tag), which this parser
reads streamed and not: vLLM's own required-call stream reader needs the accumulated text that
vLLM does not keep for parsers with their own stream state, and would see no call.

One incremental scanner reads both forms: non-streaming feeds it the whole output at once, so
streaming (any chunking) gives the same calls and content. JSON arguments stream as they
arrive, as raw text that concatenates to exactly the final `arguments` string; each delta is
read once, so the total cost is linear in the output length. The scanner speaks vLLM's
parser-engine event vocabulary (`SemanticEvent`).

Anything malformed or not a call is returned unchanged as content; arguments must be a strict
JSON object (Python's `json` would also read NaN and Infinity, which clients cannot). One case
cannot be the same both ways: if a block breaks after one of its calls was already streamed
(output cut off inside the arguments, or garbage after a call), non-streaming returns the whole
output as content, while the stream cannot take back those deltas and sends the rest as content.

Self-contained (imports only vLLM), so the file also works as
`--tool-parser-plugin .../llama_nemotron_json_tool_parser.py`.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any, cast

from vllm.entrypoints.generate.base.protocol import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
)
from vllm.parser.engine.events import EventType, SemanticEvent
from vllm.renderers.chat_utils import make_tool_call_id
from vllm.sampling_params import StructuredOutputsParams
from vllm.tool_parsers.abstract_tool_parser import ToolParser, ToolParserManager
from vllm.tool_parsers.utils import (
    UnexpectedAstError,
    get_function_tools,
    get_json_schema_from_tools,
    handle_single_tool,
    partial_tag_overlap,
)
from xgrammar import StructuralTag
from xgrammar.structural_tag import JSONSchemaFormat, TagFormat

CALL_START = "<TOOLCALL>"
CALL_END = "</TOOLCALL>"

_WS = " \t\r\n"
_STRING_STOP = re.compile(r'["\\]')
_NESTED_STOP = re.compile(r'[{}\[\]"\\]')
_SCALAR = re.compile(r"[A-Za-z0-9.+\-]*")
_ARGUMENT_KEYS = ("arguments", "parameters")
_TEXT, _NAME = EventType.TEXT_CHUNK, EventType.TOOL_NAME
_ARGUMENTS, _END = EventType.ARG_VALUE_CHUNK, EventType.TOOL_CALL_END


class Step(Enum):
    """Where the scanner is. Structural steps expect one punctuation character next."""

    TEXT = auto()  # outside a block
    FORM = auto()  # after CALL_START: "[" opens a list, "{" one bare call
    LIST_OPEN = auto()  # after "[": "{" (JSON) or a name (pythonic)
    LIST_NEXT = auto()  # after ",": "{"
    LIST_AFTER = auto()  # after a call: "," or "]"
    KEY = auto()  # in a call object: '"' opens a key
    COLON = auto()
    VALUE = auto()
    AFTER_VALUE = auto()  # "," or "}"
    STRING = auto()  # inside a string (key, name, arguments as a string, or ignored)
    NESTED = auto()  # inside an ignored object or array
    ARGUMENTS = auto()  # inside the arguments object, streamed as it arrives
    SCALAR = auto()  # a number or literal of an ignored key
    PYTHONIC = auto()  # a pythonic list, held until CALL_END
    AFTER_LIST = auto()  # after the list: whitespace, then CALL_END or other text


# Steps the streaming hot path compares on every delta, as module globals: reading a member off
# an Enum class costs about four times a global lookup (CPython 3.11).
_IN_TEXT, _IN_ARGUMENTS, _IN_NESTED = Step.TEXT, Step.ARGUMENTS, Step.NESTED
_IN_PYTHONIC, _AFTER_LIST = Step.PYTHONIC, Step.AFTER_LIST


class Purpose(Enum):
    """What a string being read is."""

    KEY = auto()
    NAME = auto()
    ARGUMENTS = auto()  # arguments given as a JSON string
    IGNORED = auto()


@dataclass
class _Call:
    """The call object being read."""

    key: str | None = None  # the key whose value comes next
    name: str | None = None
    index: int | None = None  # set once the call is announced
    arguments: list[str] = field(default_factory=list)
    has_arguments: bool = False


@dataclass
class _Value:
    """A string or nested value being read."""

    purpose: Purpose = Purpose.IGNORED
    parts: list[str] = field(default_factory=list)  # a string's raw text, quotes included
    escape: bool = False
    depth: int = 0  # nested values: open brackets
    in_string: bool = False  # nested values: inside a string


@dataclass
class _Block:
    """One `<TOOLCALL>` block: its raw text, for when it turns out not to be calls."""

    raw: list[str] = field(default_factory=lambda: [CALL_START])
    length: int = len(CALL_START)
    calls: int = 0  # calls announced in this block
    calls_end: int = 0  # offset where the last complete call ended
    bare: bool = False  # one object, not a list
    pending: str = ""  # AFTER_LIST: text that may still be CALL_END
    pythonic: list[str] = field(default_factory=list)
    pythonic_tail: str = ""  # the last characters, where CALL_END may begin


class _Malformed(Exception):
    """The block is not a call list; `args[0]` is where, in the text being scanned."""


class ToolCallScanner:
    """Incremental scanner: `feed(text)` / `finish()` return events.

    TEXT_CHUNK: content. TOOL_CALL_START and TOOL_NAME (index, name): a call starts.
    ARG_VALUE_CHUNK: more of its arguments' text. TOOL_CALL_END: the call is complete, with
    its whole `arguments` as the value. `broken` turns True when a block breaks after one of
    its calls was announced.
    """

    def __init__(self) -> None:
        self.step = Step.TEXT
        self.held = ""  # TEXT: a possible start of CALL_START
        self.calls = 0
        self.broken = False
        self.events: list[SemanticEvent] = []
        self.block = _Block()
        self.call = _Call()
        self.value = _Value()

    # --- top level ---------------------------------------------------------------------

    def feed(self, text: str) -> list[SemanticEvent]:
        self.events = []
        while text:
            text = self._feed_text(text) if self.step is _IN_TEXT else self._feed_block(text)
        return self.events

    def finish(self) -> list[SemanticEvent]:
        self.events = []
        if self.step is Step.TEXT:
            self._text(self.held)
            self.held = ""
        elif self.step is Step.PYTHONIC:
            self._close_pythonic("".join(self.block.pythonic), closed=False)
        elif self.step is Step.AFTER_LIST:
            self._text(self.block.pending)
            self.step = Step.TEXT
        else:
            self._fail()
        return self.events

    def _text(self, text: str) -> None:
        if text:
            self.events.append(SemanticEvent(EventType.TEXT_CHUNK, text))

    def _feed_text(self, text: str) -> str:
        text, self.held = self.held + text, ""
        start = text.find(CALL_START)
        if start == -1:
            keep = partial_tag_overlap(text, CALL_START)
            self._text(text[:len(text) - keep])
            self.held = text[len(text) - keep:]
            return ""
        self._text(text[:start])
        self.step, self.block = Step.FORM, _Block()
        return text[start + len(CALL_START):]

    # --- block -------------------------------------------------------------------------

    def _feed_block(self, text: str) -> str:
        """Consume block text; return what follows the block (to scan as text)."""
        step = self.step
        if step is _IN_PYTHONIC:
            return self._feed_pythonic(text)
        if step is _AFTER_LIST:
            return self._feed_after_list(text)
        base = self.block.length
        try:
            used = self._scan_json(text, base)
        except _Malformed as error:
            used = error.args[0]
            self._record(text[:used])
            self._fail()
            return text[used:]
        self._record(text[:used])
        if self.step is _IN_PYTHONIC:
            self.block.pythonic = ["".join(self.block.raw)[len(CALL_START):]]
            return self._feed_pythonic(text[used:])
        return text[used:]

    def _record(self, raw: str) -> None:
        if raw:
            self.block.raw.append(raw)
            self.block.length += len(raw)

    def _fail(self) -> None:
        """Malformed block: its text (all of it, or what follows the streamed calls) is content."""
        raw = "".join(self.block.raw)
        if self.block.calls:
            self.broken = True
            raw = raw[self.block.calls_end:]
        self._text(raw)
        self.step = Step.TEXT

    def _feed_after_list(self, text: str) -> str:
        """After the list: optional whitespace, then CALL_END, or other text (content)."""
        text, self.block.pending = self.block.pending + text, ""
        stripped = text.lstrip(_WS)
        if stripped.startswith(CALL_END):
            self.step = Step.TEXT
            return stripped[len(CALL_END):]
        if stripped and not CALL_END.startswith(stripped):
            self.step = Step.TEXT
            return text
        self.block.pending = text
        return ""

    # --- JSON form ---------------------------------------------------------------------

    def _scan_json(self, text: str, base: int) -> int:
        """Advance the JSON reading over `text` (at block offset `base`); return how much of
        it was used: all of it, or up to where the block stops being JSON calls."""
        i, n = 0, len(text)
        while i < n:
            step = self.step
            if step is _IN_ARGUMENTS or step is _IN_NESTED:  # the long runs first
                i = self._scan_nested(text, i)
            elif step is Step.STRING:
                i = self._scan_string(text, i)
            elif step is Step.SCALAR:
                i = _SCALAR.match(text, i).end()  # type: ignore[union-attr]
                if i < n:
                    self.step = Step.AFTER_VALUE
            elif text[i] in _WS:
                i += 1
            else:
                i += 1
                self._structural(text[i - 1], i)
                if self.step is Step.AFTER_LIST:
                    self.block.calls_end = base + i if self.block.bare else self.block.calls_end
                    return i
                if self.step is Step.PYTHONIC:
                    return i
                if self.step is Step.LIST_AFTER and step is Step.AFTER_VALUE:
                    self.block.calls_end = base + i
        return i

    def _structural(self, c: str, i: int) -> None:
        """One punctuation character (or a value's first character) in a structural step."""
        step = self.step
        if step is Step.VALUE:
            self._start_value(c, i)
        elif (step, c) in _MOVES:
            self.step = _MOVES[step, c]
            if self.step is Step.KEY and c == "{":
                self.call = _Call()
                self.block.bare = self.block.bare or step is Step.FORM
            elif self.step is Step.STRING:
                self.value = _Value(Purpose.KEY, ['"'])
            elif step is Step.AFTER_VALUE and c == "}":
                self._end_call(i)
        elif step is Step.LIST_OPEN and (c.isalpha() or c == "_"):
            self.step = Step.PYTHONIC
        else:
            # The block ends before this character, which is read again as text: it may open a
            # new block (`<TOOLCALL><TOOLCALL>[...]`, when a grammar adds its opener after the
            # model's own).
            raise _Malformed(i - 1)

    def _start_value(self, c: str, i: int) -> None:
        call = self.call
        if call.key == "name":
            if c != '"' or call.name is not None:
                raise _Malformed(i)
            self._start(Step.STRING, _Value(Purpose.NAME, ['"']))
        elif call.key in _ARGUMENT_KEYS:
            if call.has_arguments or c not in '{"':
                raise _Malformed(i)
            call.has_arguments = True
            if c == '"':
                self._start(Step.STRING, _Value(Purpose.ARGUMENTS, ['"']))
                return
            self._start(Step.ARGUMENTS, _Value(depth=1))
            if call.name is not None:
                self._announce()
            self._arguments("{")
        elif c == '"':
            self._start(Step.STRING, _Value(Purpose.IGNORED, ['"']))
        elif c in "{[":
            self._start(Step.NESTED, _Value(depth=1))
        else:
            self.step = Step.SCALAR  # numbers, true/false/null of keys we ignore

    def _start(self, step: Step, value: _Value) -> None:
        self.step, self.value = step, value

    def _scan_string(self, text: str, i: int) -> int:
        value = self.value
        while i < len(text):
            if value.escape:
                value.parts.append(text[i])
                value.escape = False
                i += 1
                continue
            m = _STRING_STOP.search(text, i)
            if m is None:
                value.parts.append(text[i:])
                return len(text)
            j = m.start()
            value.parts.append(text[i:j + 1])
            i = j + 1
            if text[j] == "\\":
                value.escape = True
            else:
                self._end_string(i)
                return i
        return i

    def _scan_nested(self, text: str, i: int) -> int:
        """An ignored nested value, or the arguments object (whose text is streamed)."""
        value, start = self.value, i
        streamed = self.step is _IN_ARGUMENTS
        while i < len(text):
            if value.escape:
                value.escape = False
                i += 1
                continue
            m = (_STRING_STOP if value.in_string else _NESTED_STOP).search(text, i)
            if m is None:
                i = len(text)
                break
            j, c = m.start(), text[m.start()]
            i = j + 1
            if c == "\\":
                # Outside strings a backslash is invalid JSON; json.loads catches it later.
                value.escape = value.in_string
            elif c == '"':
                value.in_string = not value.in_string
            elif c in "{[":
                value.depth += 1
            else:
                value.depth -= 1
                if value.depth == 0:
                    if streamed:
                        self._arguments(text[start:i])
                        self._end_arguments(i)
                    else:
                        self.step = Step.AFTER_VALUE
                    return i
        if streamed:
            self._arguments(text[start:i])
        return i

    def _end_string(self, i: int) -> None:
        try:
            text = json.loads("".join(self.value.parts))
        except ValueError:
            raise _Malformed(i) from None
        call, purpose = self.call, self.value.purpose
        self.step = Step.AFTER_VALUE
        if purpose is Purpose.KEY:
            call.key = text
            self.step = Step.COLON
        elif purpose is Purpose.NAME:
            if not text:
                raise _Malformed(i)
            call.name = text
            if call.has_arguments:
                self._announce()
        elif purpose is Purpose.ARGUMENTS:
            if not _is_json_object(text):
                raise _Malformed(i)
            if call.name is not None:
                self._announce()
            self._arguments(text)

    def _announce(self) -> None:
        """A call goes out once its name is known and its arguments began (or the object ended)."""
        call = self.call
        call.index = self.calls
        self.calls += 1
        self.block.calls += 1
        self.events.append(SemanticEvent(EventType.TOOL_CALL_START, tool_index=call.index))
        self.events.append(SemanticEvent(EventType.TOOL_NAME, call.name or "", call.index))
        if call.arguments:
            self._emit_arguments("".join(call.arguments))

    def _arguments(self, text: str) -> None:
        if text:
            call = self.call
            call.arguments.append(text)
            if call.index is not None:
                self.events.append(SemanticEvent(_ARGUMENTS, text, call.index))

    def _emit_arguments(self, text: str) -> None:
        self.events.append(SemanticEvent(_ARGUMENTS, text, self.call.index or 0))

    def _end_arguments(self, i: int) -> None:
        if not _is_json_object("".join(self.call.arguments)):
            raise _Malformed(i)
        self.step = Step.AFTER_VALUE

    def _end_call(self, i: int) -> None:
        call = self.call
        if call.name is None:
            raise _Malformed(i)
        if call.index is None:
            self._announce()
        if not call.has_arguments:
            self._arguments("{}")
        arguments = "".join(call.arguments)
        self.events.append(SemanticEvent(EventType.TOOL_CALL_END, arguments, call.index or 0))
        self.step = Step.AFTER_LIST if self.block.bare else Step.LIST_AFTER

    # --- pythonic form -----------------------------------------------------------------

    def _feed_pythonic(self, text: str) -> str:
        """Hold the pythonic body until CALL_END (looked for in the new text only)."""
        block = self.block
        combined = block.pythonic_tail + text
        end = combined.find(CALL_END)
        if end == -1:
            block.pythonic.append(text)
            block.pythonic_tail = combined[-(len(CALL_END) - 1):]
            return ""
        body = "".join(block.pythonic) + text
        self._close_pythonic(body[:len(body) - len(combined) + end], closed=True)
        return combined[end + len(CALL_END):]

    def _close_pythonic(self, body: str, closed: bool) -> None:
        calls = _parse_pythonic(body)
        if calls is None:
            self._text(CALL_START + body + (CALL_END if closed else ""))
        for call in calls or []:
            index = self.calls
            self.calls += 1
            self.events += [
                SemanticEvent(EventType.TOOL_CALL_START, tool_index=index),
                SemanticEvent(EventType.TOOL_NAME, call.function.name, index),
                SemanticEvent(EventType.ARG_VALUE_CHUNK, call.function.arguments, index),
                SemanticEvent(EventType.TOOL_CALL_END, call.function.arguments, index),
            ]
        self.step = Step.TEXT


# Structural steps: (step, character) -> next step.
_MOVES = {
    (Step.FORM, "["): Step.LIST_OPEN,
    (Step.FORM, "{"): Step.KEY,
    (Step.LIST_OPEN, "{"): Step.KEY,
    (Step.LIST_NEXT, "{"): Step.KEY,
    (Step.LIST_AFTER, ","): Step.LIST_NEXT,
    (Step.LIST_AFTER, "]"): Step.AFTER_LIST,
    (Step.KEY, '"'): Step.STRING,
    (Step.COLON, ":"): Step.VALUE,
    (Step.AFTER_VALUE, ","): Step.KEY,
    (Step.AFTER_VALUE, "}"): Step.LIST_AFTER,  # _end_call decides: a bare call ends the block
}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _is_json_object(text: str) -> bool:
    """A strict JSON object: Python's `json` also reads NaN and Infinity, which clients can't."""
    try:
        return isinstance(json.loads(text, parse_constant=_reject_constant), dict)
    except ValueError:
        return False


def _parse_pythonic(body: str) -> list[ToolCall] | None:
    """`[f(a=1), g()]` -> calls, or None when it is not such a list of keyword-only calls."""
    try:
        tree = ast.parse(body.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not isinstance(tree, ast.List) or not tree.elts:
        return None
    calls = []
    for node in tree.elts:
        if not isinstance(node, ast.Call) or node.args or any(k.arg is None for k in node.keywords):
            return None
        try:
            call = handle_single_tool(node)
        except (UnexpectedAstError, TypeError, ValueError, RecursionError):
            return None
        if not _is_json_object(call.function.arguments):  # e.g. x=1e999 became Infinity
            return None
        calls.append(call)
    return calls


class LlamaNemotronJsonToolParser(ToolParser):
    """`<TOOLCALL>` JSON / pythonic tool calls; see the module docstring for the rules."""

    # Our own per-request state reads only each delta's new text; the serving layer then
    # also calls `finish_streaming` at the end of the stream (no text is left held back).
    engine_based_streaming = True
    # Forced calls come in our own format (adjust_request), so this parser reads them too.
    supports_required_and_named = False

    def __init__(self, tokenizer: Any, tools: list | None = None):
        super().__init__(tokenizer, tools)
        self._scanner = ToolCallScanner()
        self._ids: dict[int, str] = {}

    def adjust_request(self, request: Any) -> Any:
        request = super().adjust_request(request)
        tool_choice = request.tool_choice
        if request.tools and tool_choice not in (None, "none", "auto"):
            tools: list[Any] = get_function_tools(request.tools)
            if tool_choice != "required":  # one call of the named function
                name = getattr(tool_choice, "function", tool_choice).name
                tools = [t for t in tools if getattr(t, "function", t).name == name]
            parallel = request.parallel_tool_calls if tool_choice == "required" else False
            calls = cast(dict, get_json_schema_from_tools("required", tools, parallel))
            tag = StructuralTag(format=TagFormat(
                begin=CALL_START, content=JSONSchemaFormat(json_schema=calls), end=CALL_END))
            request.structured_outputs = StructuredOutputsParams(
                structural_tag=json.dumps(tag.model_dump()))
            # The forced call wins over the answer format, as in vLLM (Responses: `text`).
            if hasattr(request, "response_format"):
                request.response_format = None
            else:
                request.text = None
        token_id = self.vocab.get(CALL_START)
        if request.tools and request.tool_choice != "none" and token_id is not None \
                and self.model_tokenizer.decode([token_id], skip_special_tokens=True) == "":
            request.skip_special_tokens = False  # `<TOOLCALL>` is special: keep it in the text
        return request

    def extract_tool_calls(self, model_output: str, request: Any) -> ExtractedToolCallInformation:
        scanner = ToolCallScanner()
        events = scanner.feed(model_output) + scanner.finish()
        names = {e.tool_index: e.value for e in events if e.type is EventType.TOOL_NAME}
        arguments = {e.tool_index: e.value for e in events if e.type is EventType.TOOL_CALL_END}
        if not names or scanner.broken or arguments.keys() != names.keys():
            return ExtractedToolCallInformation(
                tools_called=False, tool_calls=[], content=model_output)
        calls = [ToolCall(id=make_tool_call_id(), function=FunctionCall(
            name=names[i], arguments=arguments[i])) for i in sorted(names)]
        content = "".join(e.value for e in events if e.type is EventType.TEXT_CHUNK)
        return ExtractedToolCallInformation(
            tools_called=True, tool_calls=calls, content=content or None)

    def extract_tool_calls_streaming(  # vLLM's signature; only the new text is read
            self, previous_text: str, current_text: str, delta_text: str,
            previous_token_ids: Sequence[int], current_token_ids: Sequence[int],
            delta_token_ids: Sequence[int], request: Any) -> DeltaMessage | None:
        return self._message(self._scanner.feed(delta_text))

    def finish_streaming(self) -> DeltaMessage | None:
        return self._message(self._scanner.finish())

    def _message(self, events: list[SemanticEvent]) -> DeltaMessage | None:
        content: list[str] = []
        names: dict[int, str] = {}  # calls that start in this delta
        arguments: dict[int, list[str]] = {}
        for event in events:
            kind, index = event.type, event.tool_index
            if kind is _TEXT:
                content.append(event.value)
            elif kind is _NAME:
                names[index] = event.value
                self._ids[index] = make_tool_call_id()
                self.prev_tool_call_arr.append({"name": event.value, "arguments": ""})
                self.streamed_args_for_tool.append("")
                self.current_tool_id = index
            elif kind is _ARGUMENTS:
                arguments.setdefault(index, []).append(event.value)
            elif kind is _END:
                # Kept equal, so vLLM's end-of-stream top-up finds nothing unsent.
                self.prev_tool_call_arr[index]["arguments"] = event.value
                self.streamed_args_for_tool[index] = event.value
        if not content and not names and not arguments:
            return None
        calls = []
        for i in sorted(names.keys() | arguments.keys()):
            function = DeltaFunctionCall(arguments="".join(arguments.get(i, ())))
            if i in names:  # the call's first delta carries its id and name
                function.name = names[i]
                calls.append(DeltaToolCall(index=i, id=self._ids[i], type="function",
                                           function=function))
            else:
                calls.append(DeltaToolCall(index=i, function=function))
        return DeltaMessage(content="".join(content) or None, tool_calls=calls)

ToolParserManager.register_module(name="llama_nemotron_json", module=LlamaNemotronJsonToolParser)
