"""`tool_choice` "required" or a named function with our tool parsers.

A forced call is one block of the parser's own format holding vLLM's call-list JSON schema (an
xgrammar structural tag), and the parser reads it streamed as well as whole. vLLM's own
required-call stream reader would see no call: it needs the accumulated text, which vLLM does
not keep for parsers with their own stream state (engine_based_streaming).
"""

from __future__ import annotations

import json

import pytest
from vllm.entrypoints.openai.responses.protocol import ResponsesRequest

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


@pytest.mark.parametrize("tool,begin,end", PARSERS)
@pytest.mark.parametrize("tool_choice", ["required", NAMED], ids=["required", "named"])
def test_forced_calls_come_in_our_format(tool, begin, end, tool_choice):
    req = make(CharTokenizer(), tool).adjust_request(request(tool_choice=tool_choice))
    tag = json.loads(req.structured_outputs.structural_tag)["format"]
    assert (tag["begin"], tag["end"]) == (begin, end)
    schema = tag["content"]["json_schema"]
    assert schema["type"] == "array" and schema["minItems"] == 1
    assert schema.get("maxItems") == (1 if tool_choice is NAMED else None)
    names = [item["properties"]["name"]["enum"] for item in schema["items"]["anyOf"]]
    assert names == ([["g"]] if tool_choice is NAMED else [["get_weather"], ["f"], ["g"]])

    # what the grammar lets the model write, read back streamed and whole
    text = f'{begin}[{{"name": "g", "parameters": {{"a": 1}}}}]{end}'
    expected = Result("", "", [("g", '{"a": 1}')])
    assert non_streaming(None, text, tool=tool, tool_choice=tool_choice).normalized() == expected
    chunks = char_chunks(text, range(len(text)))
    assert streaming(None, chunks, tool=tool, tool_choice=tool_choice).normalized() == expected


def test_auto_adds_no_grammar():
    req = make(CharTokenizer(), "llama_nemotron_json").adjust_request(request())
    assert req.structured_outputs is None


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
    tag = json.loads(req.extract_structured_outputs().structural_tag)["format"]
    assert (tag["begin"], tag["end"]) == (begin, end)
