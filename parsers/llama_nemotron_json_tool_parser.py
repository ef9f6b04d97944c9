"""`llama_nemotron_json` tool parser (Llama-3.1-Nemotron-Nano-4B-v1.1, Super, Ultra, Nano-9B-v2).

Forms inside `<TOOLCALL>...</TOOLCALL>` (text before and after is content):
- JSON: `[{"name": ..., "arguments": {...}}, ...]`, or one bare object; `"parameters"` for
  `"arguments"`; arguments as an object or a JSON string holding one.
- pythonic (the Ultra/Super BFCL prompts): `[get_weather(city="Paris"), f(x=None)]`,
  keyword arguments with literal values only (vLLM's `handle_single_tool`, never `eval`).
`</TOOLCALL>` may be missing when the output ends (or goes on) right after the call list.

A block is all calls or none, and its calls are sent when it is complete (its list or bare
object closed, or the pythonic body ended): each call goes out whole, name and arguments in one
delta. So a block that never becomes valid (cut off, broken JSON, NaN in the arguments) is
content, unchanged, streamed in any chunking as well as whole: the stream never sent a call it
would have to take back. The cost: arguments do not stream piece by piece inside a block
(docs/tool-parsers.md weighs this against the alternatives).

`tool_choice` "required" or a named function: the call is forced with vLLM's own grammar for
it, the call-list JSON schema as a JSON constraint, so the engine compiles it with the
server's structured-output settings (backend, `disable_any_whitespace`, ...) as it does for
vLLM's own forced calls; vLLM passes parsers no view of those settings, and structural tags
are compiled without them. The output then starts inside the block, without `<TOOLCALL>`
(unless the model wrote one as the thought's implicit end), and this parser reads it as such,
streamed and not. vLLM's own required-call stream reader would see no call here: it needs the
accumulated text, which vLLM does not keep for parsers with their own stream state.

One incremental scanner reads every form: non-streaming feeds it the whole output at once, so
streaming (any chunking) gives the same calls and content. Each delta is read once, so the
total cost is linear in the output length. The scanner speaks vLLM's parser-engine event
vocabulary (`SemanticEvent`).

Anything malformed or not a call is returned unchanged as content. Arguments are read
leniently where the meaning is unambiguous and sent as strict JSON (`strict_arguments`): a raw
control character inside a string (a tab) is escaped in place; the rest is kept as written,
including all a JSON grammar accepts (numbers such as `1e999`, `\\ud800` escapes). NaN and
Infinity, which Python's `json` reads but clients cannot, are not JSON: the block is content.
Forced and auto calls follow the same rule (docs/tool-parsers.md, "Lenient reading").

Self-contained (imports only vLLM and jsonschema, a vLLM dependency), so the file also works as
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

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from vllm.entrypoints.generate.base.protocol import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
)
from vllm.exceptions import VLLMValidationError
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

CALL_START = "<TOOLCALL>"
CALL_END = "</TOOLCALL>"
# A forced call's list may follow either family's opener: `nano_v3` ends a thought at
# `<tool_call>` as well as `<TOOLCALL>`, and vLLM's grammar writes the call list right after it.
FORCED_OPENERS = (CALL_START, "<tool_call>")

_WS = " \t\r\n"
_CONTROL = re.compile(r"[\x00-\x1f]")
# A JSON string read leniently: raw control characters, but none right after a backslash.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\[^\x00-\x1f])*"')
_SHORT_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_STRING_STOP = re.compile(r'["\\]')
_NESTED_STOP = re.compile(r'[{}\[\]"\\]')
_SCALAR = re.compile(r"[A-Za-z0-9.+\-]*")
_ARGUMENT_KEYS = ("arguments", "parameters")
_TEXT, _NAME, _END = EventType.TEXT_CHUNK, EventType.TOOL_NAME, EventType.TOOL_CALL_END


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
    ARGUMENTS = auto()  # inside the arguments object, whose text is kept
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
    """One `<TOOLCALL>` block: its raw text, for when it turns out not to be calls, and its
    complete calls, held until the block is complete."""

    opener: str = CALL_START  # "" for the block a forced call's output starts in
    raw: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (name, arguments)
    bare: bool = False  # one object, not a list
    pending: str = ""  # AFTER_LIST: text that may still be CALL_END
    pythonic: list[str] = field(default_factory=list)
    pythonic_tail: str = ""  # the last characters, where CALL_END may begin

    def __post_init__(self) -> None:
        self.raw.append(self.opener)


class _Malformed(Exception):
    """The block is not a call list; `args[0]` is where, in the text being scanned."""


class ToolCallScanner:
    """Incremental scanner: `feed(text)` / `finish()` return events.

    TEXT_CHUNK: content. For each call of a block, once the block is complete: TOOL_NAME
    (index, name), then TOOL_CALL_END (index, the whole `arguments`). `opened`: the output
    starts inside a block, without `<TOOLCALL>` (a forced call's bare call list).
    """

    def __init__(self, opened: bool = False) -> None:
        self.step = Step.FORM if opened else Step.TEXT
        self.openers = FORCED_OPENERS if opened else (CALL_START,)
        self.held = ""  # TEXT: a possible start of CALL_START
        self.calls = 0
        self.events: list[SemanticEvent] = []
        self.block = _Block(opener="" if opened else CALL_START)
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
        found = [(text.find(opener), opener) for opener in self.openers if opener in text]
        if not found:
            keep = max(partial_tag_overlap(text, opener) for opener in self.openers)
            self._text(text[:len(text) - keep])
            self.held = text[len(text) - keep:]
            return ""
        start, opener = min(found)
        self._text(text[:start])
        self.step, self.block = Step.FORM, _Block(opener=opener)
        return text[start + len(opener):]

    # --- block -------------------------------------------------------------------------

    def _feed_block(self, text: str) -> str:
        """Consume block text; return what follows the block (to scan as text)."""
        step = self.step
        if step is _IN_PYTHONIC:
            return self._feed_pythonic(text)
        if step is _AFTER_LIST:
            return self._feed_after_list(text)
        try:
            used = self._scan_json(text)
        except _Malformed as error:
            used = error.args[0]
            self.block.raw.append(text[:used])
            self._fail()
            return text[used:]
        self.block.raw.append(text[:used])
        if self.step is _IN_PYTHONIC:
            self.block.pythonic = ["".join(self.block.raw)[len(self.block.opener):]]
            return self._feed_pythonic(text[used:])
        return text[used:]

    def _fail(self) -> None:
        """Malformed block: all its text is content, and none of its calls."""
        self._text("".join(self.block.raw))
        self.step = Step.TEXT

    def _complete(self) -> None:
        """The block's call list closed: nothing after it can break the block, so its calls
        go out, each whole."""
        for name, arguments in self.block.calls:
            self._emit_call(name, arguments)

    def _emit_call(self, name: str, arguments: str) -> None:
        index = self.calls
        self.calls += 1
        self.events.append(SemanticEvent(_NAME, name, index))
        self.events.append(SemanticEvent(_END, arguments, index))

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

    def _scan_json(self, text: str) -> int:
        """Advance the JSON reading over `text`; return how much of it was used: all of it,
        or up to where the call list closed or the block stopped being JSON calls."""
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
                if self.step is _AFTER_LIST:
                    self._complete()
                    return i
                if self.step is _IN_PYTHONIC:
                    return i
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
            # new block (`<TOOLCALL><TOOLCALL>[...]`, or a forced call's output that opens with
            # the model's own `<TOOLCALL>`).
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
            call.arguments.append("{")
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
        """An ignored nested value, or the arguments object (whose text is kept)."""
        value, start = self.value, i
        kept = self.step is _IN_ARGUMENTS
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
                    if kept:
                        self.call.arguments.append(text[start:i])
                        self._end_arguments(i)
                    else:
                        self.step = Step.AFTER_VALUE
                    return i
        if kept:
            self.call.arguments.append(text[start:i])
        return i

    def _end_string(self, i: int) -> None:
        try:  # a raw control character inside a string is read as itself (strict=False)
            text = json.loads("".join(self.value.parts), strict=False)
        except ValueError:
            raise _Malformed(i) from None
        call, purpose = self.call, self.value.purpose
        self.step = Step.AFTER_VALUE
        if purpose is Purpose.KEY:
            call.key = text
            self.step = Step.COLON
        elif purpose is Purpose.NAME:
            if not text or not _encodable(text):
                raise _Malformed(i)
            call.name = text
        elif purpose is Purpose.ARGUMENTS:
            arguments = strict_arguments(text)
            if arguments is None:
                raise _Malformed(i)
            call.arguments.append(arguments)

    def _end_arguments(self, i: int) -> None:
        arguments = strict_arguments("".join(self.call.arguments))
        if arguments is None:
            raise _Malformed(i)
        self.call.arguments = [arguments]
        self.step = Step.AFTER_VALUE

    def _end_call(self, i: int) -> None:
        call = self.call
        if call.name is None:
            raise _Malformed(i)
        self.block.calls.append((call.name, "".join(call.arguments) or "{}"))
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
            self._text(self.block.opener + body + (CALL_END if closed else ""))
        for call in calls or []:
            self._emit_call(call.function.name, call.function.arguments)
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


def _escape_control(match: re.Match) -> str:
    c = match.group()
    return _SHORT_ESCAPES.get(c) or f"\\u{ord(c):04x}"


def _escape_string(match: re.Match) -> str:
    return _CONTROL.sub(_escape_control, match.group())


def strict_arguments(text: str) -> str | None:
    """Arguments as strict JSON, or None when they are not a JSON object.

    A raw control character inside a string (strict JSON forbids it; `json.loads(strict=False)`
    reads it as itself) is escaped in place (a tab becomes `\\t`); everything else is kept as
    written, so the text is the model's own and its value is what `json.loads(text,
    strict=False)` reads. Control characters outside strings (other than JSON whitespace), NaN
    and Infinity stay invalid.
    """
    if _CONTROL.search(text) is not None:
        # Escape sequences hold no quote, so the strings found here are the strings of the
        # result: it is valid exactly when the lenient reading of `text` is.
        text = _JSON_STRING.sub(_escape_string, text)
    if not _encodable(text):  # a lone surrogate, from arguments given as a JSON string
        text = text.encode("utf-8", "backslashreplace").decode()  # its JSON escape: \\ud800
    return text if _is_json_object(text) else None


def _encodable(text: str) -> bool:
    """No lone surrogate (a `\\ud800` escape read into a name): it cannot be sent as UTF-8."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


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


def _forced_tools(request: Any) -> list[Any] | None:
    """The tools a forced call may use (`tool_choice` "required", or a named function), or
    None when the request forces no call."""
    tool_choice = getattr(request, "tool_choice", None)  # vLLM's own tests pass no request
    if tool_choice in (None, "none", "auto") or not request.tools:
        return None
    tools: list[Any] = get_function_tools(request.tools)
    if tool_choice != "required":
        name = getattr(getattr(tool_choice, "function", tool_choice), "name", None)
        if name is None:  # e.g. the Responses API's allowed_tools: not a forced call
            return None
        tools = [t for t in tools if getattr(t, "function", t).name == name]
    return tools


def forced_call_schema(request: Any) -> dict | None:
    """vLLM's call-list JSON schema when the request forces a call (`tool_choice` "required",
    or a named function: one call of it), else None."""
    tools = _forced_tools(request)
    if tools is None:
        return None
    parallel = request.parallel_tool_calls if request.tool_choice == "required" else False
    return cast(dict, get_json_schema_from_tools("required", tools, parallel))


def check_forced_schemas(request: Any) -> None:
    """A 400 naming the tool when a forced call's parameters are not a JSON schema: its grammar
    is built from them, and vLLM would only find out in the engine, after a streamed response
    had started (`/v1/messages` then answered `internal_error`)."""
    for tool in _forced_tools(request) or ():
        function = getattr(tool, "function", tool)
        schema = getattr(function, "parameters", None)
        if not isinstance(schema, dict):
            continue  # no parameters: vLLM uses an empty object
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as error:
            raise VLLMValidationError(
                f"tool {function.name!r}: its parameters are not a valid JSON schema "
                f"({error.message})", parameter="tools", value=function.name) from None


class LlamaNemotronJsonToolParser(ToolParser):
    """`<TOOLCALL>` JSON / pythonic tool calls; see the module docstring for the rules."""

    # Our own per-request state reads only each delta's new text; the serving layer then
    # also calls `finish_streaming` at the end of the stream (no text is left held back).
    engine_based_streaming = True
    # Forced calls are read by this parser too (adjust_request, the module docstring).
    supports_required_and_named = False

    def __init__(self, tokenizer: Any, tools: list | None = None):
        super().__init__(tokenizer, tools)
        self._scanner: ToolCallScanner | None = None  # made on the first delta

    def adjust_request(self, request: Any) -> Any:
        request = super().adjust_request(request)
        check_forced_schemas(request)
        schema = forced_call_schema(request)
        if schema is not None:  # vLLM's own forced-call grammar, as vLLM sets it
            request.structured_outputs = StructuredOutputsParams(json=schema)
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
        scanner = ToolCallScanner(opened=forced_call_schema(request) is not None)
        events = scanner.feed(model_output) + scanner.finish()
        names = {e.tool_index: e.value for e in events if e.type is _NAME}
        if not names:
            return ExtractedToolCallInformation(
                tools_called=False, tool_calls=[], content=model_output)
        arguments = {e.tool_index: e.value for e in events if e.type is _END}
        calls = [ToolCall(id=make_tool_call_id(), function=FunctionCall(
            name=names[i], arguments=arguments[i])) for i in sorted(names)]
        content = "".join(e.value for e in events if e.type is _TEXT)
        return ExtractedToolCallInformation(
            tools_called=True, tool_calls=calls, content=content or None)

    def extract_tool_calls_streaming(  # vLLM's signature; only the new text is read
            self, previous_text: str, current_text: str, delta_text: str,
            previous_token_ids: Sequence[int], current_token_ids: Sequence[int],
            delta_token_ids: Sequence[int], request: Any) -> DeltaMessage | None:
        if self._scanner is None:
            self._scanner = ToolCallScanner(opened=forced_call_schema(request) is not None)
        return self._message(self._scanner.feed(delta_text))

    def finish_streaming(self) -> DeltaMessage | None:
        return None if self._scanner is None else self._message(self._scanner.finish())

    def _message(self, events: list[SemanticEvent]) -> DeltaMessage | None:
        content: list[str] = []
        calls = []
        for event in events:
            if event.type is _TEXT:
                content.append(event.value)
            elif event.type is _NAME:
                self.current_tool_id = event.tool_index
                self.prev_tool_call_arr.append({"name": event.value, "arguments": ""})
                self.streamed_args_for_tool.append("")
                calls.append(DeltaToolCall(
                    index=event.tool_index, id=make_tool_call_id(), type="function",
                    function=DeltaFunctionCall(name=event.value)))
            elif event.type is _END:  # the call's whole arguments, in its one delta
                calls[-1].function.arguments = event.value  # type: ignore[union-attr]
                # Kept equal, so vLLM's end-of-stream top-up finds nothing unsent.
                self.prev_tool_call_arr[event.tool_index]["arguments"] = event.value
                self.streamed_args_for_tool[event.tool_index] = event.value
        if not content and not calls:
            return None
        return DeltaMessage(content="".join(content) or None, tool_calls=calls)

ToolParserManager.register_module(name="llama_nemotron_json", module=LlamaNemotronJsonToolParser)
