"""vLLM's own qwen3_coder / Qwen3 XML tool-parser test cases, adapted to `nemotron3_xml`.

Sources (vllm-project/vllm; read, not copied: each row names its source test and case):
- tests/tool_parsers/test_qwen3coder_tool_parser.py (commit 049d8df), which runs vLLM's
  qwen3_coder (the parser our recipes used before) and its engine-based successor.
- tests/tool_parsers/test_qwen3xml_tool_parser.py (commit 1cbe721): its common-test outputs
  and the schema type names of test_convert_param_value_invalid_emits_warning.

Each row runs whole and streamed (characters one, 3 and 7 at a time, one delta, the source's
own deltas, and tokens with `<tool_call>` as one token, one and two at a time), and every way
must give the row's content and calls (arguments compared as JSON).

Where we deliberately differ from the vLLM expectation, the row says why, by these keys:
- MALFORMED: a function tag without its `>` or with an empty name makes the block content,
  unchanged (the source asks only that nothing raises and no call is None).
- SCHEMA: qwen3_xml's common test has no tool schemas, so its typed values stay strings here.

Skipped source cases (vLLM internals with no counterpart here):
- the structural-tag tests (get_structural_tag, adjust_request's structural tag): forced calls
  use vLLM's JSON call-list grammar instead (test_nemotron3_xml.py, docs/tool-parsers.md), and
  auto-mode calls are not constrained.
- the hub tokenizer (Qwen3-Coder-30B-A3B): the harness tokenizer has `<tool_call>` as a token.
- qwen3_xml's warning-log test: it calls the parser's private converter; its type names are rows.
"""

from __future__ import annotations

import json

import pytest

import tests.parsers.drive as drive
import vllm_nemotron.parsers.nemotron3_xml_tool_parser  # noqa: F401  (registers the name)
from tests.parsers.drive import CharTokenizer, char_chunks, non_streaming, streaming
from tests.parsers.test_nemotron3_xml import all_ways

TOOL = "nemotron3_xml"


def tool(name, props=None):
    params = {"type": "object", **({"properties": props} if props is not None else {})}
    return {"type": "function", "function": {"name": name, "parameters": params}}


NULLABLE = [{"type": "null"}]
TOOLS = [
    # test_qwen3coder_tool_parser.py: WEATHER_PARAMS, AREA_PARAMS
    tool("get_current_weather", {"city": {"type": "string"}, "state": {"type": "string"},
                                 "unit": {"type": "string", "enum": ["fahrenheit", "celsius"]}}),
    tool("calculate_area", {"shape": {"type": "string"}, "dimensions": {"type": "object"},
                            "precision": {"type": "integer"}}),
    # ... test_extract_tool_calls_type_conversion
    tool("test_types", {"int_param": {"type": "integer"}, "float_param": {"type": "float"},
                        "bool_param": {"type": "boolean"}, "str_param": {"type": "string"},
                        "obj_param": {"type": "object"}}),
    # ... test_extract_tool_calls_anyof_type_conversion
    tool("test_anyof", {
        "anyof_int": {"anyOf": [{"type": "integer"}, *NULLABLE], "default": 5},
        "anyof_str": {"anyOf": [{"type": "string"}, *NULLABLE]},
        "anyof_array": {"anyOf": [{"type": "array", "items": {"type": "string"}}, *NULLABLE]},
        "anyof_obj": {"anyOf": [{"type": "object"}, *NULLABLE]},
        "type_as_array": {"type": ["integer", "null"]},
        "multi_non_null": {"anyOf": [{"type": "string"}, {"type": "integer"}, *NULLABLE]}}),
    # ... test_extract_tool_calls_anyof_type_conversion_streaming
    tool("search_web", {"query": {"anyOf": [{"type": "string"}, *NULLABLE]},
                        "count": {"anyOf": [{"type": "integer"}, *NULLABLE], "default": 5},
                        "verbose": {"anyOf": [{"type": "boolean"}, *NULLABLE]}}),
    # ... test_anyof_parameter_not_double_encoded, test_no_double_serialization_string_args
    tool("update_record", {"data": {"anyOf": [{"type": "object"}, *NULLABLE]}}),
    tool("greet", {"message": {"type": "string"}}),
    # test_qwen3xml_tool_parser.py: tools without schemas
    tool("get_weather"), tool("get_time"), tool("test_function"), tool("refresh"),
    # ... test_convert_param_value_invalid_emits_warning: schema type names
    tool("names", {t: {"type": t} for t in
                   ("int", "integer", "uint", "long", "short", "unsigned", "num", "float")}),
]


@pytest.fixture(scope="module", autouse=True)
def tools():
    saved, drive.TOOLS = drive.TOOLS, TOOLS
    yield
    drive.TOOLS = saved


def p(name, value):
    return f"<parameter={name}>\n{value}\n</parameter>\n"


def wrap(name, *params):
    return f"<tool_call>\n<function={name}>\n" + "".join(params) + "</function>\n</tool_call>"


DALLAS = wrap("get_current_weather", p("city", "Dallas"), p("state", "TX"),
              p("unit", "fahrenheit"))
DALLAS_ARGS = {"city": "Dallas", "state": "TX", "unit": "fahrenheit"}
RECTANGLE = wrap("calculate_area", p("shape", "rectangle"),
                 p("dimensions", '{"width": 10, \n "height": 20}'), p("precision", "2"))
CIRCLE = wrap("calculate_area", p("shape", "circle"), p("dimensions", '{"radius": 15.5}'),
              p("precision", "3"))
MISSING_CLOSE = ("Let me check the weather for you:\n<tool_call>\n<function=get_current_weather>"
                 "\n<parameter=city>\nDallas\n<parameter=state>\nTX\n</parameter>\n"
                 "<parameter=unit>\nfahrenheit\n</parameter>\n</function>\n</tool_call>")


def row(text, content, calls=(), *, id):
    """`text`: the output, or a tuple of the source's own deltas; calls: (name, args dict)."""
    return pytest.param(text, content, list(calls), id=id)


ROWS = [
    # test_qwen3coder_tool_parser.py::test_extract_tool_calls_no_tools
    row("This is a test response without any tool calls",
        "This is a test response without any tool calls", id="coder-no_tools"),
    # ... test_extract_tool_calls[single_tool] (and test_extract_tool_calls_streaming)
    row(DALLAS, "", [("get_current_weather", DALLAS_ARGS)], id="coder-single_tool"),
    # ... [single_tool_with_content]
    row("Sure! Let me check the weather for you." + DALLAS,
        "Sure! Let me check the weather for you.", [("get_current_weather", DALLAS_ARGS)],
        id="coder-single_tool_with_content"),
    # ... [single_tool_multiline_param]
    row(RECTANGLE, "", [("calculate_area", {"shape": "rectangle", "dimensions": {
        "width": 10, "height": 20}, "precision": 2})], id="coder-single_tool_multiline_param"),
    # ... [parallel_tools] (the streaming variant's second unit is celsius)
    row(DALLAS + "\n" + DALLAS.replace("Dallas", "Orlando").replace("TX", "FL")
        .replace("fahrenheit", "celsius"), "",
        [("get_current_weather", DALLAS_ARGS),
         ("get_current_weather", {"city": "Orlando", "state": "FL", "unit": "celsius"})],
        id="coder-parallel_tools"),
    # ... [tool_with_typed_params]
    row("Let me calculate that area for you." + CIRCLE, "Let me calculate that area for you.",
        [("calculate_area", {"shape": "circle", "dimensions": {"radius": 15.5},
                             "precision": 3})], id="coder-tool_with_typed_params"),
    # ... test_extract_tool_calls_fallback_no_tags
    row("<function=get_current_weather>\n" + p("city", "Dallas") + p("state", "TX")
        + "</function>", "", [("get_current_weather", {"city": "Dallas", "state": "TX"})],
        id="coder-fallback_no_tags"),
    # ... test_extract_tool_calls_type_conversion
    row(wrap("test_types", p("int_param", "42"), p("float_param", "3.14"),
             p("bool_param", "true"), p("str_param", "hello world"),
             p("obj_param", '{"key": "value"}')), "",
        [("test_types", {"int_param": 42, "float_param": 3.14, "bool_param": True,
                         "str_param": "hello world", "obj_param": {"key": "value"}})],
        id="coder-type_conversion"),
    # ... test_extract_tool_calls_anyof_type_conversion
    row(wrap("test_anyof", p("anyof_int", "5"), p("anyof_str", "hello"),
             p("anyof_array", '["a", "b", "c"]'), p("anyof_obj", '{"key": "value"}'),
             p("type_as_array", "42"), p("multi_non_null", "some text")), "",
        [("test_anyof", {"anyof_int": 5, "anyof_str": "hello", "anyof_array": ["a", "b", "c"],
                         "anyof_obj": {"key": "value"}, "type_as_array": 42,
                         "multi_non_null": "some text"})], id="coder-anyof_type_conversion"),
    # ... test_extract_tool_calls_anyof_type_conversion_streaming
    row(wrap("search_web", p("query", "vllm tool parser"), p("count", "10"),
             p("verbose", "true")), "",
        [("search_web", {"query": "vllm tool parser", "count": 10, "verbose": True})],
        id="coder-anyof_type_conversion_streaming"),
    # ... test_extract_tool_calls_missing_closing_parameter_tag (and its streaming twin)
    row(MISSING_CLOSE, "Let me check the weather for you:\n",
        [("get_current_weather", DALLAS_ARGS)], id="coder-missing_closing_parameter_tag"),
    # ... test_extract_tool_calls_streaming_incremental
    row("I'll check the weather." + wrap("get_current_weather", p("city", "Dallas"),
                                         p("state", "TX")), "I'll check the weather.",
        [("get_current_weather", {"city": "Dallas", "state": "TX"})],
        id="coder-streaming_incremental"),
    # ... test_extract_tool_calls_streaming_missing_opening_tag
    row("I'll check the weather for you.\n\n<function=get_current_weather>\n"
        + p("city", "Dallas") + p("state", "TX") + p("unit", "fahrenheit")
        + "</function>\n</tool_call>", "I'll check the weather for you.\n\n",
        [("get_current_weather", DALLAS_ARGS)], id="coder-streaming_missing_opening_tag"),
    # ... test_malformed_xml_no_gt_delimiter (MALFORMED)
    row("<tool_call>\n<function=get_current_weather\n<parameter=city>Dallas</parameter>\n"
        "</function>\n</tool_call>", None, id="coder-malformed_xml_no_gt_delimiter"),
    # ... test_none_tool_calls_filtered (MALFORMED: the bad block is content)
    row("<tool_call>\n<function=bad_func_no_gt\n</function>\n</tool_call>\n<tool_call>\n"
        "<function=get_current_weather>\n<parameter=city>Dallas</parameter>\n"
        "<parameter=state>TX</parameter>\n</function>\n</tool_call>",
        "<tool_call>\n<function=bad_func_no_gt\n</function>\n</tool_call>\n",
        [("get_current_weather", {"city": "Dallas", "state": "TX"})],
        id="coder-none_tool_calls_filtered"),
    # ... test_anyof_parameter_not_double_encoded
    row('<tool_call>\n<function=update_record>\n<parameter=data>{"key": "value", "count": 42}'
        "</parameter>\n</function>\n</tool_call>", "",
        [("update_record", {"data": {"key": "value", "count": 42}})],
        id="coder-anyof_parameter_not_double_encoded"),
    # ... test_streaming_multi_param_single_chunk (the source's own deltas)
    row(("<tool_call>", "\n<function=get_current_weather>", "\n",
         "<parameter=city>\nDallas\n</parameter>\n<parameter=state>\nTX\n</parameter>"
         "\n<parameter=unit>\nfahrenheit\n</parameter>", "\n</function>", "\n</tool_call>"), "",
        [("get_current_weather", DALLAS_ARGS)], id="coder-streaming_multi_param_single_chunk"),
    # ... test_no_double_serialization_string_args
    row("<tool_call>\n<function=greet>\n<parameter=message>hello world</parameter>\n"
        "</function>\n</tool_call>", "", [("greet", {"message": "hello world"})],
        id="coder-no_double_serialization_string_args"),
    # test_qwen3xml_tool_parser.py: no_tool_calls_output
    row("This is a regular response without any tool calls.",
        "This is a regular response without any tool calls.", id="xml-no_tool_calls"),
    # ... single_tool_call_output
    row("<tool_call>\n<function=get_weather>\n<parameter=city>Tokyo</parameter>\n</function>\n"
        "</tool_call>", "", [("get_weather", {"city": "Tokyo"})], id="xml-single_tool_call"),
    # ... parallel_tool_calls_output
    row("<tool_call>\n<function=get_weather>\n<parameter=city>Tokyo</parameter>\n</function>\n"
        "</tool_call><tool_call>\n<function=get_time>\n<parameter=timezone>Asia/Tokyo"
        "</parameter>\n</function>\n</tool_call>", "",
        [("get_weather", {"city": "Tokyo"}), ("get_time", {"timezone": "Asia/Tokyo"})],
        id="xml-parallel_tool_calls"),
    # ... various_data_types_output (SCHEMA)
    row("<tool_call>\n<function=test_function>\n<parameter=string_field>hello</parameter>\n"
        "<parameter=int_field>42</parameter>\n<parameter=null_field>null</parameter>\n"
        '<parameter=array_field>["a", "b", "c"]</parameter>\n</function>\n</tool_call>', "",
        [("test_function", {"string_field": "hello", "int_field": "42", "null_field": "null",
                            "array_field": '["a", "b", "c"]'})], id="xml-various_data_types"),
    # ... empty_arguments_output
    row("<tool_call>\n<function=refresh>\n</function>\n</tool_call>", "", [("refresh", {})],
        id="xml-empty_arguments"),
    # ... surrounding_text_output
    row("Let me check the weather for you.\n\n<tool_call>\n<function=get_weather>\n"
        "<parameter=city>Tokyo</parameter>\n</function>\n</tool_call>\n\n"
        "I will get that information.",
        "Let me check the weather for you.\n\n\n\nI will get that information.",
        [("get_weather", {"city": "Tokyo"})], id="xml-surrounding_text"),
    # ... escaped_strings_output
    row('<tool_call>\n<function=test_function>\n<parameter=quoted>He said "hello"</parameter>\n'
        "<parameter=path>C:\\Users\\file.txt</parameter>\n"
        "<parameter=newline>line1\nline2</parameter>\n</function>\n</tool_call>", "",
        [("test_function", {"quoted": 'He said "hello"', "path": "C:\\Users\\file.txt",
                            "newline": "line1\nline2"})], id="xml-escaped_strings"),
    # ... malformed_input_outputs: a function tag and nothing else is a call without arguments;
    # an empty name is content (MALFORMED)
    row("<tool_call><function=func>", "", [("func", {})], id="xml-malformed-open_function"),
    row("<tool_call><function=></function></tool_call>", None, id="xml-malformed-empty_name"),
    # ... test_convert_param_value_invalid_emits_warning: values that fit no listed type stay
    # strings, for every type name it lists
    row(wrap("names", *(p(t, "not_a_number") for t in
                        ("int", "integer", "uint", "long", "short", "unsigned", "num", "float"))),
        "", [("names", dict.fromkeys(("int", "integer", "uint", "long", "short", "unsigned",
                                      "num", "float"), "not_a_number"))],
        id="xml-convert_param_value_invalid"),
    # ... and the same names read numbers
    row(wrap("names", p("uint", "7"), p("short", "-2"), p("num", "2.5")), "",
        [("names", {"uint": 7, "short": -2, "num": 2.5})], id="xml-convert_param_value"),
]


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("text,content,calls", ROWS)
def test_adapted(tag_tokenizer, tags, text, content, calls):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    deltas = text if isinstance(text, tuple) else None
    text = "".join(deltas) if deltas else text
    expected_content = text if content is None else content

    def check(got):
        assert [(n, json.loads(a)) for n, a in got.calls] == calls
        assert got.content == (expected_content if expected_content.strip() or not calls
                               else "")

    check(non_streaming(tok, text, tool=TOOL).normalized())
    ways = all_ways(tok, text)
    if deltas:
        ways.append([(d, tok.encode(d, add_special_tokens=False)) for d in deltas])
    for chunks in ways:
        check(streaming(tok, chunks, tool=TOOL).normalized())


def test_streamed_call_has_id_type_and_whole_json():
    """test_extract_tool_calls_streaming_incremental's checks on the deltas themselves: content
    first, one header with id, name and type, arguments that join to valid JSON."""
    from tests.parsers.drive import make, request

    text = "I'll check the weather." + wrap("get_current_weather", p("city", "Dallas"))
    parser, req = make(CharTokenizer(), TOOL), request()
    deltas = [parser.parse_delta(t, ids, req, prompt_token_ids=[], finished=i == len(text) - 1)
              for i, (t, ids) in enumerate(char_chunks(text, range(len(text))))]
    deltas = [d for d in deltas if d is not None]
    assert deltas[0].content and not deltas[0].tool_calls
    headers = [c for d in deltas for c in d.tool_calls if c.id]
    assert len(headers) == 1 and headers[0].type == "function"
    assert headers[0].function.name == "get_current_weather"
    arguments = "".join(c.function.arguments or "" for d in deltas for c in d.tool_calls)
    assert json.loads(arguments) == {"city": "Dallas"}
