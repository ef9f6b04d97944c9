"""`tool_choice` "required" or a named function with our tool parsers.

A forced call is vLLM's own forced-call grammar: the call-list JSON schema as a JSON constraint,
which the engine compiles with the server's structured-output settings (backend,
`disable_any_whitespace`), as for vLLM's own forced calls. The output is then the block's body
without its opener, and the parser reads it as such, streamed as well as whole. vLLM's own
required-call stream reader would see no call: it needs the accumulated text, which vLLM does
not keep for parsers with their own stream state (engine_based_streaming).
"""

from __future__ import annotations

import json

import pytest
import xgrammar as xgr
from vllm.entrypoints.openai.responses.protocol import ResponsesRequest
from vllm.tool_parsers.utils import get_json_schema_from_tools

from tests.parsers.drive import (
    TOOLS,
    CharTokenizer,
    Result,
    char_chunks,
    make,
    non_streaming,
    request,
    streaming,
)

NAMED = {"type": "function", "function": {"name": "g"}}
# (tool parser, its block tags)
PARSERS = [("llama_nemotron_json", "<TOOLCALL>", "</TOOLCALL>"),
           ("nemotron_mini", "<toolcall>", "</toolcall>")]
CHOICES = pytest.mark.parametrize("tool_choice", ["required", NAMED], ids=["required", "named"])


def read_all_ways(tool, text, tool_choice) -> Result:
    """The reply whole, and checked equal streamed one character at a time and in one delta."""
    got = non_streaming(None, text, tool=tool, tool_choice=tool_choice).normalized()
    for cuts in (range(len(text)), ()):
        chunks = char_chunks(text, cuts)
        assert streaming(None, chunks, tool=tool, tool_choice=tool_choice).normalized() == got
    return got


@pytest.mark.parametrize("tool,begin,end", PARSERS)
@CHOICES
def test_forced_calls_use_vllms_forced_call_grammar(tool, begin, end, tool_choice):
    req = make(CharTokenizer(), tool).adjust_request(request(tool_choice=tool_choice))
    outputs = req.structured_outputs
    # A JSON constraint, as vLLM sets for its own forced calls: the engine compiles it with the
    # server's settings (a structural tag is compiled without them).
    assert outputs.structural_tag is None and outputs.json is not None
    schema = outputs.json
    if tool_choice == "required":  # exactly vLLM's schema for "required"
        assert schema == get_json_schema_from_tools("required", request().tools, None)
    assert schema["type"] == "array" and schema["minItems"] == 1
    assert schema.get("maxItems") == (1 if tool_choice is NAMED else None)
    names = [item["properties"]["name"]["enum"] for item in schema["items"]["anyOf"]]
    assert names == ([["g"]] if tool_choice is NAMED else [["get_weather"], ["f"], ["g"]])


# (output under the grammar, the arguments llama_nemotron_json returns: the text as written;
# nemotron_mini re-serializes them: '{"a": 1}')
GRAMMAR_OUTPUTS = [
    ('[{"name":"g","parameters":{"a":1}}]', '{"a":1}'),  # disable_any_whitespace
    ('[{"name": "g", "parameters": {"a": 1}}]', '{"a": 1}'),
    ('\n [\n\t{"name" : "g",\r\n "parameters" : {"a" :1}}\n]\n', '{"a" :1}'),  # any whitespace
]


@pytest.mark.parametrize("tool,begin,end", PARSERS)
@CHOICES
@pytest.mark.parametrize("text,arguments", GRAMMAR_OUTPUTS)
def test_what_the_grammar_lets_through_is_the_call(tool, begin, end, tool_choice, text,
                                                   arguments):
    if tool == "nemotron_mini":
        arguments = '{"a": 1}'
    assert read_all_ways(tool, text, tool_choice) == Result("", "", [("g", arguments)])


# Lenient reading (issue 23): what a JSON grammar may let through, or a model write, that a
# strict reader would not take as it is, and the strict JSON each parser sends for it:
# (the call list, llama_nemotron_json's arguments (as written, control characters escaped),
# nemotron_mini's (re-serialized)).
LENIENT = [
    ('[{"name":"g","parameters":{"city":",k\tg"}}]',  # the raw tab
     '{"city":",k\\tg"}', '{"city": ",k\\tg"}'),
    ('[{"name":"g","parameters":{"a\x01":"\n\x1f\b\f\r\x00"}}]',
     '{"a\\u0001":"\\n\\u001f\\b\\f\\r\\u0000"}',
     '{"a\\u0001": "\\n\\u001f\\b\\f\\r\\u0000"}'),
    ('[{"name":"g","parameters":{"a":"\\\\\t"}}]',  # an escaped backslash, then a raw tab
     '{"a":"\\\\\\t"}', '{"a": "\\\\\\t"}'),
    ('[{"name":"g","parameters":"{\\"a\\": \\"x\ty\\"}"}]',  # arguments as a string
     '{"a": "x\\ty"}', '{"a": "x\\ty"}'),
    ('[{"name":"g","parameters":{"a":1e999,"b":-1E+400}}]',  # JSON numbers; floats read inf
     '{"a":1e999,"b":-1E+400}', '{"a": 1e999, "b": -1e999}'),
    ('[{"name":"g","parameters":{"a":"\\ud800"}}]',  # a lone surrogate escape
     '{"a":"\\ud800"}', '{"a": "\\ud800"}'),
    ('[{"name":"g","parameters":{"a":"\x7f\u2028\u00e9"}}]',
     '{"a":"\x7f\u2028\u00e9"}', '{"a": "\x7f\u2028\u00e9"}'),
]
# Not JSON even leniently: content, forced or not.
NOT_LENIENT = [
    '[{"name":"g","parameters":{"a":NaN}}]',
    '[{"name":"g","parameters":{"a":\x01 1}}]',  # a control character outside strings
    '[{"name":"g","parameters":{"a":"\\\tx"}}]',  # a backslash then a raw tab: no escape
    "[{\"name\":\"g\",\"parameters\":{'a':1}}]",
    '[{"name":"g","parameters":{"a":1,}}]',
    '[{"name":"\\ud800","parameters":{}}]',  # a name that cannot be sent as UTF-8
]


def _block(tool, text):
    """The call list as the model writes it in auto mode, in its block."""
    begin, end = next((b, e) for t, b, e in PARSERS if t == tool)
    return begin + text + end


@pytest.mark.parametrize("tool,begin,end", PARSERS)
@pytest.mark.parametrize("tool_choice", ["required", NAMED, "auto"], ids=["required", "named",
                                                                          "auto"])
@pytest.mark.parametrize("text,llama_arguments,mini_arguments", LENIENT)
def test_lenient_reading_sends_strict_json(tool, begin, end, tool_choice, text, llama_arguments,
                                           mini_arguments):
    arguments = llama_arguments if tool == "llama_nemotron_json" else mini_arguments
    output = _block(tool, text) if tool_choice == "auto" else text
    assert read_all_ways(tool, output, tool_choice) == Result("", "", [("g", arguments)])
    written = json.loads(text, strict=False)[0]["parameters"]  # what the model meant
    if isinstance(written, str):
        written = json.loads(written, strict=False)
    assert json.loads(arguments, parse_constant=lambda c: pytest.fail(c)) == written


@pytest.mark.parametrize("tool,begin,end", PARSERS)
@pytest.mark.parametrize("tool_choice", ["required", NAMED, "auto"], ids=["required", "named",
                                                                          "auto"])
@pytest.mark.parametrize("text", NOT_LENIENT)
def test_what_is_not_json_even_leniently_is_content(tool, begin, end, tool_choice, text):
    output = _block(tool, text) if tool_choice == "auto" else text
    assert read_all_ways(tool, output, tool_choice) == Result("", output, [])


def _xgrammar_accepts(schema: dict, text: str, any_whitespace: bool) -> bool:
    """Compiled as vLLM 0.32's xgrammar backend compiles a JSON constraint (backend_xgrammar.py),
    over a byte vocabulary: whether the grammar lets `text` through, then the end."""
    vocab = [f"<0x{b:02X}>" for b in range(256)] + ["</s>"]
    info = xgr.TokenizerInfo(vocab, vocab_type=xgr.VocabType.BYTE_FALLBACK, stop_token_ids=[256])
    compiled = xgr.GrammarCompiler(info).compile_json_schema(
        json.dumps(schema), any_whitespace=any_whitespace,
        separators=None if any_whitespace else (",", ":"))
    matcher = xgr.GrammarMatcher(compiled)
    return all(matcher.accept_token(b) for b in text.encode()) and matcher.accept_token(256)


@pytest.mark.parametrize("any_whitespace", [True, False], ids=["whitespace", "compact"])
@pytest.mark.parametrize("text,accepted", [  # accepted: with any whitespace, compact
    ('[{"name":"g","parameters":{"a":"x\\ty"}}]', (True, True)),
    ('[{"name":"g","parameters":{"a":1e999}}]', (True, True)),
    ('[{"name":"g","parameters":{"a":-1E+400}}]', (True, True)),
    ('[{"name":"g","parameters":{"a":"\\ud800"}}]', (True, True)),
    ('[{"name":"g","parameters":{"a":"\x7f\u2028\u00e9"}}]', (True, True)),
    # inside a schema-less object, compact xgrammar 0.2.8 writes ", " (xgrammar issue 945)
    ('[{"name":"g","parameters":{"a":1, "b":[1, 2]}}]', (True, True)),
    ('[{"name":"g","parameters":{"a":1,"b":2}}]', (True, False)),
    ('[{"name":"g","parameters":{"a":"x\ty"}}]', (False, False)),  # raw control characters
    ('[{"name":"g","parameters":{"a":"\x01"}}]', (False, False)),
    ('[{"name":"g","parameters":{"a\n":1}}]', (False, False)),
    ('[{"name":"g","parameters":{"a":NaN}}]', (False, False)),
])
def test_what_xgrammar_lets_through(any_whitespace, text, accepted):
    """xgrammar 0.2.8's JSON grammar (vLLM's forced-call schema) keeps raw control characters
    out of strings, but lets through numbers a float reads as inf and lone surrogate escapes;
    the parsers read each accepted text as the call (LENIENT). docs/tool-parsers.md."""
    schema = get_json_schema_from_tools("required", request().tools, None)
    assert _xgrammar_accepts(schema, text, any_whitespace) is accepted[not any_whitespace]
    if accepted[not any_whitespace]:
        for tool, _, _ in PARSERS:
            assert [n for n, _ in read_all_ways(tool, text, "required").calls] == ["g"]


@pytest.mark.parametrize("tool", ["llama_nemotron_json", "nemotron3_xml"])
@CHOICES
@pytest.mark.parametrize("opener", ["<TOOLCALL>", "<tool_call>", "<tool_call>\n"])
def test_a_forced_call_after_the_models_own_opener(tool, tool_choice, opener):
    """A thought that ends on a tool-call opener (`nano_v3`'s implicit end: `<TOOLCALL>` or
    `<tool_call>`) leaves the opener in the content before the grammar's call list. The random
    model of test_combinations.py wrote `<tool_call>` there, and the call came back as content;
    either family's opener, whichever parser serves."""
    text = opener + '[{"name": "g", "parameters": {"a": 1}}]'
    expected = Result("", "", [("g", '{"a": 1}')])
    assert read_all_ways(tool, text, tool_choice) == expected


@pytest.mark.parametrize("tool,opener", [("llama_nemotron_json", "<tool_call>"),
                                         ("nemotron3_xml", "<TOOLCALL>")])
def test_an_unforced_reply_keeps_the_other_familys_opener_as_content(tool, opener):
    text = opener + '[{"name": "g", "parameters": {"a": 1}}]'
    assert read_all_ways(tool, text, "auto") == Result("", text, [])


@pytest.mark.parametrize("tool,begin,end", PARSERS)
@CHOICES
@pytest.mark.parametrize("text", [
    '[{"name": "g", "parameters": {"a": 1}',  # cut off by max_tokens
    '[{"name": "g", "parameters": {"a": 1}}',
    '[{"name": "g", "param',
    "[",
    "plain text",
])
def test_a_forced_call_cut_off_is_content(tool, begin, end, tool_choice, text):
    assert read_all_ways(tool, text, tool_choice) == Result("", text, [])


def test_auto_adds_no_grammar():
    req = make(CharTokenizer(), "llama_nemotron_json").adjust_request(request())
    assert req.structured_outputs is None


def test_auto_output_does_not_start_inside_a_block():
    text = '[{"name": "g", "parameters": {"a": 1}}]'
    assert read_all_ways("llama_nemotron_json", text, "auto") == Result("", text, [])


@pytest.mark.parametrize("tool,begin,end", PARSERS)
def test_forced_call_replaces_a_responses_text_format(tool, begin, end):
    """Responses API: `text.format` gives way to the forced call, as vLLM does; kept beside the
    call's grammar it makes vLLM refuse the request ("both structured_outputs and text.format")."""
    req = ResponsesRequest(
        model="m", input="hi", tool_choice="required",
        tools=[{"type": "function", **t["function"]} for t in TOOLS],
        text={"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}})
    req = make(CharTokenizer(), tool).adjust_request(req)
    assert req.text is None
    schema = req.extract_structured_outputs().json
    assert schema["type"] == "array" and schema["minItems"] == 1


@pytest.mark.parametrize("tool,begin,end", PARSERS)
def test_responses_named_and_allowed_tools(tool, begin, end):
    """A Responses named function forces one call of it; `allowed_tools` is not a forced call
    (vLLM's get_json_schema_from_tools gives it no grammar either)."""
    tools = [{"type": "function", **t["function"]} for t in TOOLS]
    named = make(CharTokenizer(), tool).adjust_request(ResponsesRequest(
        model="m", input="hi", tools=tools, tool_choice={"type": "function", "name": "f"}))
    schema = named.structured_outputs.json
    assert schema["maxItems"] == 1
    assert [i["properties"]["name"]["enum"] for i in schema["items"]["anyOf"]] == [["f"]]
    allowed = make(CharTokenizer(), tool).adjust_request(ResponsesRequest(
        model="m", input="hi", tools=tools, tool_choice={
            "type": "allowed_tools", "mode": "required",
            "tools": [{"type": "function", "name": "f"}]}))
    assert allowed.structured_outputs is None


@pytest.mark.parametrize("tool", [tool for tool, _, _ in PARSERS] + ["nemotron3_xml"])
@CHOICES
def test_a_forced_tool_with_an_invalid_schema_is_a_400_naming_it(tool, tool_choice):
    """Issue 24: the forced call's grammar is built from the tool's schema; an invalid one
    must fail in the API server (a 400 before a stream starts), naming the tool."""
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.exceptions import VLLMValidationError

    tools = [*TOOLS[:1], {"type": "function", "function": {"name": "g",
                                                          "parameters": {"type": "odd"}}}]
    req = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                                tools=tools, tool_choice=tool_choice)
    with pytest.raises(VLLMValidationError, match="tool 'g'") as error:
        make(CharTokenizer(), tool=tool).adjust_request(req)
    assert error.value.parameter == "tools"
    # a valid schema, or no call forced, passes
    req = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                                tools=tools, tool_choice="auto")
    make(CharTokenizer(), tool=tool).adjust_request(req)
