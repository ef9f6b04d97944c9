"""`nemotron_mini` tool parser (Nemotron-Mini-4B-Instruct).

The model writes `<toolcall> {"name": ..., "arguments": {...}} </toolcall>` (several blocks,
or a list in one block, are accepted; `"parameters"` for `"arguments"`; arguments may be a
JSON string). Text outside the blocks is content; a block that does not hold calls comes
back unchanged as content; a missing `</toolcall>` at the end of the output is tolerated.
A block is read leniently where the meaning is unambiguous (a raw control character inside a
string, e.g. a tab, is read as itself) and its arguments are sent as strict JSON; NaN and
Infinity are not JSON (docs/tool-parsers.md, "Lenient reading").

`tool_choice` "required" or a named function: the call is forced with vLLM's own grammar for
it, the call-list JSON schema as a JSON constraint, which the engine compiles with the
server's structured-output settings (backend, `disable_any_whitespace`, ...); the output then
is the block's body without `<toolcall>`, and this parser reads it as such, streamed and not
(vLLM's own required-call stream reader needs accumulated text that it does not keep here).

Each block is short, so it is held until it closes and then parsed once: every call goes
out whole (name and arguments in one delta), and streaming equals non-streaming for every
input and chunking. Only the new text of each delta is scanned (linear cost). Events are
vLLM's parser-engine vocabulary (`SemanticEvent`). Self-contained (imports only vLLM and its
jsonschema), so the file also works as `--tool-parser-plugin .../nemotron_mini_tool_parser.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, cast

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from vllm.entrypoints.generate.base import protocol
from vllm.exceptions import VLLMValidationError
from vllm.parser.engine.events import EventType, SemanticEvent
from vllm.renderers.chat_utils import make_tool_call_id
from vllm.sampling_params import StructuredOutputsParams
from vllm.tool_parsers.abstract_tool_parser import ToolParser, ToolParserManager
from vllm.tool_parsers.utils import (
    get_function_tools,
    get_json_schema_from_tools,
    partial_tag_overlap,
)

CALL_START = "<toolcall>"
CALL_END = "</toolcall>"

_CONTROL = re.compile(r"[\x00-\x1f]")
# A JSON string read leniently: raw control characters, but none right after a backslash.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\[^\x00-\x1f])*"')
_SHORT_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# In json.dumps output: a string, or a number too large for a float (read as inf).
_STRING_OR_INFINITY = re.compile(r'"(?:[^"\\]|\\.)*"|Infinity')


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _lenient_json(text: str) -> object:
    """json.loads, reading a raw control character inside a string as itself (strict=False),
    without NaN and Infinity, which Python reads but clients' JSON parsers don't."""
    return json.loads(text, strict=False, parse_constant=_not_json)


def _escape_control(match: re.Match) -> str:
    c = match.group()
    return _SHORT_ESCAPES.get(c) or f"\\u{ord(c):04x}"


def _escape_string(match: re.Match) -> str:
    return _CONTROL.sub(_escape_control, match.group())


def strict_arguments(text: str) -> str | None:
    """Arguments given as a JSON string -> strict JSON (raw control characters inside strings
    escaped in place, the rest as written), or None when they are not a JSON object."""
    if _CONTROL.search(text) is not None:
        # Escape sequences hold no quote, so the strings found here are the strings of the
        # result: it is valid exactly when the lenient reading of `text` is.
        text = _JSON_STRING.sub(_escape_string, text)
    if not _encodable(text):  # a lone surrogate, from arguments given as a JSON string
        text = text.encode("utf-8", "backslashreplace").decode()  # its JSON escape: \\ud800
    try:
        return text if isinstance(json.loads(text, parse_constant=_not_json), dict) else None
    except ValueError:
        return None


def _dump_arguments(arguments: dict) -> str:
    """Strict JSON of parsed arguments: strings escaped, non-ASCII kept unless a lone surrogate
    (a `\\ud800` escape) would make the text unsendable as UTF-8; a number too large for a
    float (read as inf) written as `1e999`, which JSON readers read back as the same value."""
    text = json.dumps(arguments, ensure_ascii=False)
    if not _encodable(text):
        text = json.dumps(arguments)
    return _STRING_OR_INFINITY.sub(lambda m: "1e999" if m.group() == "Infinity" else m.group(),
                                   text)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def parse_block(body: str) -> list[tuple[str, str]] | None:
    """A block body -> [(name, strict JSON arguments)], or None when it holds no valid call."""
    try:
        value = _lenient_json(body)
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        name = item["name"]
        if not name or not _encodable(name) or ("arguments" in item and "parameters" in item):
            return None
        arguments = item.get("arguments", item.get("parameters", {}))
        if isinstance(arguments, str):
            arguments = strict_arguments(arguments)
            if arguments is None:
                return None
            calls.append((name, arguments))
        elif isinstance(arguments, dict):
            calls.append((name, _dump_arguments(arguments)))
        else:
            return None
    return calls or None


class BlockScanner:
    """Incremental `<toolcall>` splitter: `feed` / `finish` return TEXT_CHUNK events, and a
    TOOL_CALL_END event per call (value: the arguments; the name in the TOOL_NAME before it).
    `opened`: the output starts inside a block, without `<toolcall>` (a forced call's body)."""

    def __init__(self, opened: bool = False) -> None:
        self.in_block = opened
        self.opener = "" if opened else CALL_START  # of the block being read
        self.held = ""  # a possible start of the next tag
        self.body: list[str] = []

    def feed(self, text: str) -> list[SemanticEvent]:
        events: list[SemanticEvent] = []
        while text:
            tag = CALL_END if self.in_block else CALL_START
            text, self.held = self.held + text, ""
            at = text.find(tag)
            if at == -1:
                keep = partial_tag_overlap(text, tag)
                self._take(text[:len(text) - keep], events)
                self.held = text[len(text) - keep:]
                break
            self._take(text[:at], events)
            if self.in_block:
                self._close(events, closed=True)
            else:
                self.in_block, self.opener, self.body = True, CALL_START, []
            text = text[at + len(tag):]
        return events

    def finish(self) -> list[SemanticEvent]:
        events: list[SemanticEvent] = []
        self._take(self.held, events)
        self.held = ""
        if self.in_block:
            self._close(events, closed=False)
        return events

    def _take(self, text: str, events: list[SemanticEvent]) -> None:
        if not text:
            return
        if self.in_block:
            self.body.append(text)
        else:
            events.append(SemanticEvent(EventType.TEXT_CHUNK, text))

    def _close(self, events: list[SemanticEvent], closed: bool) -> None:
        body = "".join(self.body)
        calls = parse_block(body)
        if calls is None:
            events.append(SemanticEvent(
                EventType.TEXT_CHUNK, self.opener + body + (CALL_END if closed else "")))
        for name, arguments in calls or []:
            events += [SemanticEvent(EventType.TOOL_NAME, name),
                       SemanticEvent(EventType.TOOL_CALL_END, arguments)]
        self.in_block, self.body = False, []


def _calls(events: list[SemanticEvent]) -> list[tuple[str, str]]:
    """(name, arguments) of each call in the events."""
    names = [e.value for e in events if e.type is EventType.TOOL_NAME]
    ends = [e.value for e in events if e.type is EventType.TOOL_CALL_END]
    return list(zip(names, ends, strict=True))


def _content(events: list[SemanticEvent]) -> str:
    return "".join(e.value for e in events if e.type is EventType.TEXT_CHUNK)


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


class NemotronMiniToolParser(ToolParser):
    """`<toolcall>{...}</toolcall>` tool calls of Nemotron-Mini-4B-Instruct."""

    # Keeps per-request state and reads only each delta's new text; the serving layer
    # calls `finish_streaming` at the end of the stream to release a held block.
    engine_based_streaming = True
    # Forced calls are read by this parser too (adjust_request, the module docstring).
    supports_required_and_named = False

    def __init__(self, tokenizer: Any, tools: list | None = None):
        super().__init__(tokenizer, tools)
        self._scanner: BlockScanner | None = None  # made on the first delta

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
        if token_id is not None and request.tools and request.tool_choice != "none":
            # `<toolcall>` may be a special token: keep it in the text we parse.
            if self.model_tokenizer.decode([token_id], skip_special_tokens=True) == "":
                request.skip_special_tokens = False
        return request

    def extract_tool_calls(self, model_output: str,
                           request: Any) -> protocol.ExtractedToolCallInformation:
        scanner = BlockScanner(opened=forced_call_schema(request) is not None)
        events = scanner.feed(model_output) + scanner.finish()
        calls = [protocol.ToolCall(id=make_tool_call_id(),
                                   function=protocol.FunctionCall(name=n, arguments=a))
                 for n, a in _calls(events)]
        if not calls:
            return protocol.ExtractedToolCallInformation(
                tools_called=False, tool_calls=[], content=model_output)
        return protocol.ExtractedToolCallInformation(
            tools_called=True, tool_calls=calls, content=_content(events) or None)

    def finish_streaming(self) -> protocol.DeltaMessage | None:
        return None if self._scanner is None else self._message(self._scanner.finish())

    def extract_tool_calls_streaming(  # vLLM's signature; only the new text is read
            self, previous_text: str, current_text: str, delta_text: str,
            previous_token_ids: Sequence[int], current_token_ids: Sequence[int],
            delta_token_ids: Sequence[int], request: Any,
    ) -> protocol.DeltaMessage | None:
        if self._scanner is None:
            self._scanner = BlockScanner(opened=forced_call_schema(request) is not None)
        return self._message(self._scanner.feed(delta_text))

    def _message(self, events: list[SemanticEvent]) -> protocol.DeltaMessage | None:
        content = _content(events)
        tool_calls = []
        for name, arguments in _calls(events):
            index = len(self.prev_tool_call_arr)
            self.prev_tool_call_arr.append({"name": name, "arguments": arguments})
            self.streamed_args_for_tool.append(arguments)
            self.current_tool_id = index
            tool_calls.append(
                protocol.DeltaToolCall(
                    index=index,
                    id=make_tool_call_id(),
                    type="function",
                    function=protocol.DeltaFunctionCall(name=name, arguments=arguments),
                )
            )
        if not content and not tool_calls:
            return None
        return protocol.DeltaMessage(content=content or None, tool_calls=tool_calls)


ToolParserManager.register_module(name="nemotron_mini", module=NemotronMiniToolParser)
