"""`nemotron3_xml` tool parser: Nemotron 3 / 3.5 / Omni tool calls, as the models write them.

The format (Qwen3-Coder's, which the Nemotron 3 chat templates teach):

    <tool_call>
    <function=get_weather>
    <parameter=city>
    Cairo
    </parameter>
    </function>
    </tool_call>

It reads everything vLLM's `qwen3_coder` reads, and what real Nemotron 3 output adds
(docs/tool-parsers.md gives the sources):
- `</parameter>` may be missing on any parameter: a value also ends at the next parameter of the
  tool, at `</function>` or `</tool_call>` that end the call, or at the end of the output.
- Values keep any markup byte for byte: inside a value, a `<parameter=NAME>` with no
  `</parameter>` before it starts the next parameter only when NAME is one of the tool's own
  (any name when the tool lists no properties, or is unknown), and `</parameter>` (like
  `</function>` and `</tool_call>`) closes a value only where the next tag (or the output's
  end) follows it; a parameter tag after `</parameter>` may name a parameter outside the schema.
- No `</tool_call>` at the end; a bare `<function=...>` block without the wrapper; text between
  `<tool_call>` and `<function=` (ignored, as qwen3_coder does).
- One newline after the opening tag and one before the closing tag are the template's and are
  dropped. Values are typed by the tool's schema: integer, number, boolean (also Python's
  True/False), null (also None), arrays and objects as JSON or Python literals; parameters
  outside the schema, and values that fit no listed type, are strings.

A call goes out when it is complete (its block ended, or the output did), whole: name and
arguments in one delta, so a stream never sends argument text that is not the final call's
valid JSON, and a block that turns out malformed (a function tag without its `>`, text where a
tag must be, a block cut off inside a tag) is content, unchanged, streamed as well as whole.
Whitespace between a call's block and the next call (or the output's end) is dropped.

`tool_choice` "required" or a named function: the call is forced with vLLM's JSON call-list
grammar (`get_json_schema_from_tools`), which the engine compiles with the server's structured
output settings (backend, `disable_any_whitespace`); the output is then read as that call list
(after an optional `<tool_call>` opener, which a thought ending on the model's own opener
leaves), leniently (raw control characters in strings are accepted) and sent as strict JSON.
Output that is not such a list is read as XML.

One incremental scanner reads whole outputs and deltas alike, so any chunking gives the
non-streamed answer; it keeps its position, so each character is examined a bounded number of
times (linear cost). Malformed output degrades to content and never raises.

Self-contained (imports only vLLM), so the file also works as
`--tool-parser-plugin .../nemotron3_xml_tool_parser.py`.
"""

from __future__ import annotations

import ast
import json
import math
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
from vllm.renderers.chat_utils import make_tool_call_id
from vllm.sampling_params import StructuredOutputsParams
from vllm.tool_parsers.abstract_tool_parser import ToolParser, ToolParserManager
from vllm.tool_parsers.utils import get_function_tools, get_json_schema_from_tools

CALL_START, CALL_END = "<tool_call>", "</tool_call>"
# A forced call's list may follow either family's opener: `nano_v3` ends a thought at
# `<TOOLCALL>` as well as `<tool_call>`, and vLLM's grammar writes the call list right after it.
FORCED_OPENERS = (CALL_START, "<TOOLCALL>")
FUNC_START, FUNC_END = "<function=", "</function>"
PARAM_START, PARAM_END = "<parameter=", "</parameter>"

_WS = " \t\r\n"
_OPENER = re.compile(r"<tool_call>|<function=")
_JSON_STOP = re.compile(r'["\\\[\]{}]')
_BAD_IN_NAME = "<\n"  # a tag's name never spans these; seeing one makes the tag malformed


class Step(Enum):
    TEXT = auto()  # content
    PREAMBLE = auto()  # after <tool_call>, before <function=
    NAME = auto()  # after <function=, before >
    BODY = auto()  # between parameters
    VALUE = auto()  # inside a parameter's value
    AFTER_FUNCTION = auto()  # after </function>: optional </tool_call>
    FORCED = auto()  # a forced call's output, before its first non-space character
    JSON = auto()  # a forced call list


class _More(Exception):
    """The text so far cannot decide; wait for more (never raised once the output ended)."""


class _Malformed(Exception):
    """The block is not a call; `args[0]` is where, in the buffer, reading resumes as text."""


@dataclass
class _Call:
    name: str = ""
    params: dict[str, str] = field(default_factory=dict)  # raw values, in order
    param: str = ""  # the parameter being read
    value: list[str] = field(default_factory=list)


def _properties(tool: Any) -> tuple[str | None, dict | None]:
    """(name, properties) of a Chat Completions or Responses function tool, or a dict."""
    fn = tool.get("function", tool) if isinstance(tool, dict) else getattr(tool, "function", tool)
    get = fn.get if isinstance(fn, dict) else lambda key: getattr(fn, key, None)
    params = get("parameters")
    props = params.get("properties") if isinstance(params, dict) else None
    return get("name"), props if isinstance(props, dict) and props else None


class XmlCallScanner:
    """`feed(text)` / `finish()` -> events: ("text", str) and ("call", name, arguments JSON).

    `schemas`: tool name -> its properties (None: no listed properties). `forced`: the output
    is a forced call's JSON call list (see the module docstring).
    """

    def __init__(self, schemas: dict[str, dict | None], forced: bool = False) -> None:
        self.schemas = schemas
        self.step = Step.FORCED if forced else Step.TEXT
        self.buf = ""
        self.pos = 0
        self.final = False
        self.events: list[tuple] = []
        self.raw: list[str] = []  # the current block's text, for when it is not a call
        self.call = _Call()
        self.after_call = False  # TEXT: whitespace after a call's block is held
        self.held_ws = ""  # and dropped before another call or the output's end
        self.emit_on_close = True  # AFTER_FUNCTION: a call to send (not after a JSON list)
        self.json_depth = 0
        self.json_string = False
        self.json_escape = False
        self.json_parts: list[str] = []  # JSON: the call list's text read so far
        self._handlers = {
            Step.TEXT: self._text, Step.PREAMBLE: self._preamble, Step.NAME: self._name,
            Step.BODY: self._body, Step.VALUE: self._value,
            Step.AFTER_FUNCTION: self._after_function, Step.FORCED: self._forced,
            Step.JSON: self._json,
        }

    # --- driving ------------------------------------------------------------------------

    def feed(self, text: str) -> list[tuple]:
        self.buf = self.buf[self.pos:] + text
        self.pos = 0
        return self._run()

    def finish(self) -> list[tuple]:
        self.final = True
        return self._run()

    def _run(self) -> list[tuple]:
        self.events = []
        handlers = self._handlers
        while True:
            try:
                if not handlers[self.step]():
                    break
            except _More:
                break
            except _Malformed as error:
                self._fail(error.args[0])
        return self.events

    def _emit_text(self, text: str) -> None:
        if text:
            if self.events and self.events[-1][0] == "text":
                self.events[-1] = ("text", self.events[-1][1] + text)
            else:
                self.events.append(("text", text))

    def _take(self, end: int) -> None:
        """The block consumes the buffer up to `end`."""
        self.raw.append(self.buf[self.pos:end])
        self.pos = end

    def _fail(self, at: int) -> None:
        """Malformed block: its text up to `at` is content; reading resumes there as text."""
        self._take(max(at, self.pos))
        self._emit_text("".join(self.raw))
        self.raw = []
        self.step = Step.TEXT
        self.after_call, self.held_ws = False, ""

    def _need(self, decided: bool) -> None:
        if not decided and not self.final:
            raise _More

    def _starts(self, tag: str, at: int) -> bool | None:
        """True: the tag is at `at`; None: the buffer ends inside it; False: it is not."""
        if self.buf.startswith(tag, at):
            return True
        rest = self.buf[at:at + len(tag)]
        return None if tag.startswith(rest) and not self.final else False

    def _skip_ws(self, at: int) -> int:
        n = len(self.buf)
        while at < n and self.buf[at] in _WS:
            at += 1
        return at

    # --- content ------------------------------------------------------------------------

    def _text(self) -> bool:
        buf, pos = self.buf, self.pos
        if self.after_call:  # whitespace after a call's block goes only before text
            at = self._skip_ws(pos)
            self.held_ws += buf[pos:at]
            self.pos = pos = at
            if at == len(buf):
                return False
            found = [self._starts(tag, at) for tag in (CALL_START, FUNC_START)]
            if None in found and True not in found:
                raise _More
            if True not in found:
                self._emit_text(self.held_ws)
            self.held_ws, self.after_call = "", False
        m = _OPENER.search(buf, pos)
        if m is None:
            keep = 0 if self.final else _partial_opener(buf, pos)
            self._emit_text(buf[pos:len(buf) - keep])
            self.pos = len(buf) - keep
            return False
        self._emit_text(buf[pos:m.start()])
        self.pos = m.start()
        self.raw = []
        self.call = _Call()
        self._take(m.end())
        self.step = Step.PREAMBLE if m.group() == CALL_START else Step.NAME
        return True

    def _preamble(self) -> bool:
        """Text between `<tool_call>` and `<function=` is not part of the call."""
        buf = self.buf
        func, end = buf.find(FUNC_START, self.pos), buf.find(CALL_END, self.pos)
        if end != -1 and (func == -1 or end < func):
            raise _Malformed(end + len(CALL_END))  # a block with no function: content
        if func == -1:
            if self.final:
                raise _Malformed(len(buf))
            keep = max(_overlap(buf, self.pos, FUNC_START), _overlap(buf, self.pos, CALL_END))
            self._take(len(buf) - keep)
            return False
        self._take(func + len(FUNC_START))
        self.step = Step.NAME
        return True

    def _name(self) -> bool:
        name = self._tag_name(self.pos)
        self.call.name = name
        self._take(self.buf.index(">", self.pos) + 1)
        self.step = Step.BODY
        return True

    def _tag_name(self, at: int) -> str:
        """The name from `at` up to `>` (stripped, non-empty), or _Malformed / _More."""
        buf = self.buf
        close = buf.find(">", at)
        stop = len(buf) if close == -1 else close
        for bad in _BAD_IN_NAME:
            where = buf.find(bad, at, stop)
            if where != -1:
                raise _Malformed(where)
        if close == -1:
            self._need(False)
            raise _Malformed(len(buf))
        name = buf[at:close].strip()
        if not name:
            raise _Malformed(close + 1)
        return name

    # --- a call's body ------------------------------------------------------------------

    def _body(self) -> bool:
        at = self._skip_ws(self.pos)
        if at == len(self.buf):
            self._need(False)
            self._take(at)
            self._send_call()
            return True
        for tag in (PARAM_START, FUNC_END, CALL_END, CALL_START, FUNC_START):
            found = self._starts(tag, at)
            if found is None:
                raise _More
            if not found:
                continue
            if tag == PARAM_START:
                self.call.param = self._tag_name(at + len(PARAM_START))
                self.call.value = []
                self._take(self.buf.index(">", at) + 1)
                self.step = Step.VALUE
            elif tag == FUNC_END:
                self._take(at + len(FUNC_END))
                self.step, self.emit_on_close = Step.AFTER_FUNCTION, True
            elif tag == CALL_END:
                self._take(at + len(CALL_END))
                self._send_call()
            else:  # the next call begins: this one ended without its closing tags
                self._take(at)
                self._send_call()
            return True
        raise _Malformed(at)

    def _value(self) -> bool:
        buf, call = self.buf, self.call
        while True:
            lt = buf.find("<", self.pos)
            if lt == -1:
                call.value.append(buf[self.pos:])
                self._take(len(buf))
                if self.final:
                    self._end_value()
                    self._send_call()
                    return True
                return False
            call.value.append(buf[self.pos:lt])
            self._take(lt)
            end = self._value_end(lt)
            if end is None:
                call.value.append("<")
                self._take(lt + 1)
                continue
            self._end_value()
            self._take(end)
            self.step = Step.BODY
            return True

    def _value_end(self, at: int) -> int | None:
        """At a `<` inside a value: where the value's text ends (the closing tag and the
        whitespace after it are consumed, a following tag is left for the body), or None
        when this `<` is part of the value. Raises _More when the buffer cannot tell yet."""
        more = False
        for tag, closes in ((PARAM_END, True), (FUNC_END, False), (CALL_END, False)):
            found = self._starts(tag, at)
            if found is None:
                more = True
            elif found:
                after = self._skip_ws(at + len(tag))
                follows = self._next_tag(after, after_param=closes, after_call=tag == CALL_END)
                if follows is None:
                    more = True
                elif follows:
                    return after if closes else at
        follows = self._own_param(at)
        if follows is None:
            more = True
        elif follows:
            return at
        if more:
            raise _More
        return None

    def _next_tag(self, at: int, after_param: bool, after_call: bool) -> bool | None:
        """Does a tag that may follow a closing tag start at `at` (or the output end there)?"""
        if at == len(self.buf):
            return True if self.final else None
        tags = [CALL_START, FUNC_START]
        if not after_call:
            tags.append(CALL_END)
        if after_param:
            tags.append(FUNC_END)
        more = False
        for tag in tags:
            found = self._starts(tag, at)
            if found:
                return True
            more = more or found is None
        if after_param:  # after `</parameter>`, any parameter tag (one outside the schema too)
            found = self._starts(PARAM_START, at)
            if found:
                try:
                    self._tag_name(at + len(PARAM_START))
                except _Malformed:
                    return False
                return True
            more = more or found is None
        return None if more else False

    def _own_param(self, at: int) -> bool | None:
        """Is `<parameter=NAME>` at `at`, NAME one of the tool's own (any name when the tool
        lists none)? None: cannot tell yet."""
        found = self._starts(PARAM_START, at)
        if not found:
            return found
        start = at + len(PARAM_START)
        props = self.schemas.get(self.call.name)
        if props is None:
            try:
                self._tag_name(start)
            except _Malformed:
                return False
            return True
        buf = self.buf
        for name in props:
            tag = name + ">"
            if buf.startswith(tag, start):
                return True
            if tag.startswith(buf[start:start + len(tag)]) and not self.final:
                return None
        return False

    def _end_value(self) -> None:
        call = self.call
        value = "".join(call.value)
        if value.startswith("\n"):
            value = value[1:]
        if value.endswith("\n"):
            value = value[:-1]
        call.params[call.param] = value
        call.value = []

    def _after_function(self) -> bool:
        at = self._skip_ws(self.pos)
        found = self._starts(CALL_END, at) if at < len(self.buf) else None
        if at == len(self.buf):
            self._need(False)
        elif found is None:
            raise _More
        if found:
            self._take(at + len(CALL_END))
        if self.emit_on_close:
            self._send_call()
        else:
            self.raw, self.step, self.after_call = [], Step.TEXT, True
        return True

    def _send_call(self) -> None:
        call = self.call
        arguments = _typed_arguments(call.params, self.schemas.get(call.name))
        self.events.append(("call", call.name, arguments))
        self.raw, self.step, self.after_call = [], Step.TEXT, True

    # --- forced calls: vLLM's JSON call list --------------------------------------------

    def _forced(self) -> bool:
        self.raw = []
        start = self._skip_ws(self.pos)
        opener = next((o for o in FORCED_OPENERS if self._starts(o, start)), None)
        at = start if opener is None else self._skip_ws(start + len(opener))
        if at == len(self.buf):
            self._need(False)
        elif self.buf[at] in "[{":
            self._take(at)
            self.step = Step.JSON
            self.json_parts = []
            return True
        elif any(self._starts(o, start) is None for o in FORCED_OPENERS):
            raise _More
        self.step = Step.TEXT  # not a call list: read it as XML
        return True

    def _json(self) -> bool:
        """Find where the call list closes (strings and escapes tracked across deltas); the
        text read so far moves out of the buffer, so each character is scanned once."""
        buf, i = self.buf, self.pos
        while True:
            if self.json_escape:
                if i >= len(buf):
                    break
                self.json_escape, i = False, i + 1
            m = _JSON_STOP.search(buf, i)
            if m is None:
                break
            c, i = m.group(), m.end()
            if c == "\\":
                self.json_escape = self.json_string
            elif c == '"':
                self.json_string = not self.json_string
            elif not self.json_string:
                self.json_depth += 1 if c in "[{" else -1
                if self.json_depth == 0:
                    self.json_parts.append(buf[self.pos:i])
                    calls = _json_calls("".join(self.json_parts))
                    if calls is None:
                        raise _Malformed(i)
                    self._take(i)
                    for name, arguments in calls:
                        self.events.append(("call", name, arguments))
                    self.step, self.emit_on_close = Step.AFTER_FUNCTION, False
                    return True
        self.json_parts.append(buf[self.pos:])
        self._take(len(buf))
        if self.final:
            raise _Malformed(len(buf))
        return False


def _overlap(buf: str, pos: int, tag: str) -> int:
    """How many characters at the buffer's end could begin `tag`."""
    for k in range(min(len(tag) - 1, len(buf) - pos), 0, -1):
        if buf.endswith(tag[:k]):
            return k
    return 0


def _partial_opener(buf: str, pos: int) -> int:
    return max(_overlap(buf, pos, CALL_START), _overlap(buf, pos, FUNC_START))


# --- values -----------------------------------------------------------------------------

# Type names that tool schemas use besides JSON Schema's own (vLLM's qwen3 parsers read them too)
_TYPE_NAMES = {
    **dict.fromkeys(("str", "text", "varchar", "char", "enum"), "string"),
    **dict.fromkeys(("int", "int32", "int64", "uint", "uint32", "uint64", "long", "short",
                     "unsigned"), "integer"),
    **dict.fromkeys(("num", "float", "float32", "float64", "double"), "number"),
    "bool": "boolean", "dict": "object", "list": "array", "none": "null",
}


def _types(schema: Any) -> set[str]:
    """The JSON types a property schema allows (`type`, `enum`, `anyOf`/`oneOf`/`allOf`)."""
    if not isinstance(schema, dict):
        return set()
    found: set[str] = set()
    kind = schema.get("type")
    for name in kind if isinstance(kind, list) else [kind]:
        if isinstance(name, str):
            found.add(_TYPE_NAMES.get(name.strip().lower(), name.strip().lower()))
    for value in schema.get("enum") or []:
        found.add(_json_type(value))
    for key in ("anyOf", "oneOf", "allOf"):
        for choice in schema.get(key) or []:
            found |= _types(choice)
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "string"


def _literal(text: str) -> Any:
    """JSON, else a Python literal (single quotes, True/False/None); raises ValueError."""
    try:
        return json.loads(text, parse_constant=_reject)
    except ValueError:
        pass
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise ValueError(text) from None
    value = _as_json(value)
    return value


def _reject(name: str) -> Any:
    raise ValueError(name)


def _as_json(value: Any) -> Any:
    """A Python literal as JSON data (tuples as lists); ValueError when it has no JSON form."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(value)
        return value
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _as_json(v) for k, v in value.items()}
    raise ValueError(value)


def _typed(raw: str, schema: Any) -> Any:
    """A parameter's value as the schema types it; a string when no listed type fits."""
    types = _types(schema)
    if not types or types == {"string"}:
        return raw
    text = raw.strip()
    for kind in ("null", "integer", "number", "boolean", "object", "array"):
        if kind not in types:
            continue
        if kind == "null" and text.lower() in ("null", "none"):
            return None
        if kind == "boolean" and text.lower() in ("true", "false", "1", "0"):
            return text.lower() in ("true", "1")
        if kind in ("integer", "number"):
            try:
                number = json.loads(text, parse_constant=_reject)
            except ValueError:
                continue
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                continue
            if kind == "integer" and isinstance(number, float):
                if not number.is_integer() or "number" in types:
                    continue
                number = int(number)
            if isinstance(number, float) and not math.isfinite(number):
                continue
            return number
        if kind in ("object", "array"):
            try:
                value = _literal(text)
            except ValueError:
                continue
            if isinstance(value, dict if kind == "object" else list):
                return _typed_nested(value, schema)
    return raw


def _typed_nested(value: Any, schema: Any) -> Any:
    """Strings inside an object or array, typed by the nested schema (as qwen3_coder does)."""
    if not isinstance(schema, dict):
        return value
    choices = [schema] + [c for k in ("anyOf", "oneOf") for c in schema.get(k) or []
                          if isinstance(c, dict)]
    for choice in choices:
        if isinstance(value, dict) and isinstance(choice.get("properties"), dict):
            props = choice["properties"]
            return {k: (_typed(v, props[k]) if isinstance(v, str) and k in props
                        else _typed_nested(v, props.get(k))) for k, v in value.items()}
        if isinstance(value, list) and isinstance(choice.get("items"), dict):
            items = choice["items"]
            return [_typed(v, items) if isinstance(v, str) else _typed_nested(v, items)
                    for v in value]
    return value


def _typed_arguments(params: dict[str, str], props: dict | None) -> str:
    props = props or {}
    typed = {name: (_typed(raw, props[name]) if name in props else raw)
             for name, raw in params.items()}
    return json.dumps(typed, ensure_ascii=False)


def _json_calls(text: str) -> list[tuple[str, str]] | None:
    """vLLM's forced call list (or one call object) -> (name, arguments) pairs, or None.
    Read leniently (raw control characters in strings), sent as strict JSON."""
    try:
        data = json.loads(text, strict=False, parse_constant=_reject)
    except (ValueError, RecursionError):
        return None
    items = data if isinstance(data, list) else [data]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
                or not item["name"]:
            return None
        arguments = item.get("parameters", item.get("arguments", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments, strict=False, parse_constant=_reject)
            except ValueError:
                return None
        if not isinstance(arguments, dict):
            return None
        calls.append((item["name"], json.dumps(arguments, ensure_ascii=False)))
    return calls or None


def _forced_tools(request: Any) -> list[Any] | None:
    """The tools a forced call may use (`tool_choice` "required": all; named: that one), or
    None when the request does not force a call."""
    tool_choice = getattr(request, "tool_choice", None)
    if tool_choice in (None, "none", "auto") or not getattr(request, "tools", None):
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
    had started (`/v1/messages` then answered `internal_error`; issue 24, fault 5)."""
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


class Nemotron3XmlToolParser(ToolParser):
    """Nemotron 3 `<tool_call><function=...><parameter=...>` calls; see the module docstring."""

    # Our own per-request state reads only each delta's new text; the serving layer then
    # also calls `finish_streaming` at the end of the stream.
    engine_based_streaming = True
    # Forced calls are read by this parser too (adjust_request, the module docstring).
    supports_required_and_named = False

    def __init__(self, tokenizer: Any, tools: list | None = None):
        super().__init__(tokenizer, tools)
        self._scanner: XmlCallScanner | None = None  # made on the first delta

    def _schemas(self, request: Any) -> dict[str, dict | None]:
        tools = getattr(request, "tools", None) or self.tools or []
        schemas: dict[str, dict | None] = {}
        for tool in tools:
            name, props = _properties(tool)
            if isinstance(name, str):
                schemas[name] = props
        return schemas

    def _new_scanner(self, request: Any) -> XmlCallScanner:
        forced = forced_call_schema(request) is not None
        return XmlCallScanner(self._schemas(request), forced=forced)

    def adjust_request(self, request: Any) -> Any:
        request = super().adjust_request(request)
        check_forced_schemas(request)
        schema = forced_call_schema(request)
        if schema is not None:  # vLLM's own forced-call grammar, as vLLM sets it
            request.structured_outputs = StructuredOutputsParams(json=schema)
            if hasattr(request, "response_format"):
                request.response_format = None
            else:
                request.text = None
        vocab = self.vocab if self.model_tokenizer is not None else {}
        token_id = vocab.get(CALL_START)
        if request.tools and request.tool_choice != "none" and token_id is not None \
                and self.model_tokenizer.decode([token_id], skip_special_tokens=True) == "":
            request.skip_special_tokens = False  # `<tool_call>` is special: keep it in the text
        return request

    def extract_tool_calls(self, model_output: str, request: Any) -> ExtractedToolCallInformation:
        scanner = self._new_scanner(request)
        events = scanner.feed(model_output) + scanner.finish()
        calls = [ToolCall(id=make_tool_call_id(), function=FunctionCall(name=e[1], arguments=e[2]))
                 for e in events if e[0] == "call"]
        if not calls:
            return ExtractedToolCallInformation(
                tools_called=False, tool_calls=[], content=model_output)
        content = "".join(e[1] for e in events if e[0] == "text")
        return ExtractedToolCallInformation(
            tools_called=True, tool_calls=calls, content=content or None)

    def extract_tool_calls_streaming(  # vLLM's signature; only the new text is read
            self, previous_text: str, current_text: str, delta_text: str,
            previous_token_ids: Sequence[int], current_token_ids: Sequence[int],
            delta_token_ids: Sequence[int], request: Any) -> DeltaMessage | None:
        if self._scanner is None:
            self._scanner = self._new_scanner(request)
        return self._message(self._scanner.feed(delta_text))

    def finish_streaming(self) -> DeltaMessage | None:
        return None if self._scanner is None else self._message(self._scanner.finish())

    def _message(self, events: list[tuple]) -> DeltaMessage | None:
        content: list[str] = []
        calls = []
        for event in events:
            if event[0] == "text":
                content.append(event[1])
                continue
            _, name, arguments = event
            index = len(self.prev_tool_call_arr)
            self.current_tool_id = index
            # Kept equal, so vLLM's end-of-stream top-up finds nothing unsent.
            self.prev_tool_call_arr.append({"name": name, "arguments": arguments})
            self.streamed_args_for_tool.append(arguments)
            calls.append(DeltaToolCall(
                index=index, id=make_tool_call_id(), type="function",
                function=DeltaFunctionCall(name=name, arguments=arguments)))
        if not content and not calls:
            return None
        return DeltaMessage(content="".join(content) or None, tool_calls=calls)


ToolParserManager.register_module(name="nemotron3_xml", module=Nemotron3XmlToolParser)
