"""vLLM's own tool-parser test cases, adapted to `llama_nemotron_json` and `nemotron_mini`.

Sources (vllm-project/vllm; read, not copied: each row names its source test and case):
- tests/tool_parsers/test_hermes_tool_parser.py (commit 0eb73d6). Hermes writes
  `<tool_call>{json}</tool_call>`; for llama_nemotron_json that is `<TOOLCALL>[{json}]</TOOLCALL>`,
  for nemotron_mini `<toolcall>{json}</toolcall>`, so each hermes case is a row for both.
- tests/entrypoints/openai/tool_parsers/test_hermes_tool_parser.py (commit 06b888c): a thought,
  `</think>`, then a call with non-ASCII arguments (with `nano_v3` in front here).
- tests/tool_parsers/test_llama3_json_tool_parser.py (commit 1e499e3; its cases include all of
  tests/entrypoints/openai/tool_parsers/test_llama3_json_tool_parser.py, commit 11c4d92).
  Llama 3 writes bare `{...}; {...}`; ours writes `<TOOLCALL>[{...}, {...}]</TOOLCALL>`.
- tests/tool_parsers/test_pythonic_tool_parser.py (commit 0716d26; its cases include all of the
  entrypoints file, commit 0bed603). `[f(a=1)]` becomes `<TOOLCALL>[f(a=1)]</TOOLCALL>`.

Each row runs non-streaming and streamed (one character at a time, every 4 characters, as one
delta, as the source's own deltas, and as tokens grouped 1, 2, 3, 5 and 8 at a time, like
hermes' stream_interval), with the tags as one token and as character pieces; all must give
the row's content and calls, and every call's arguments must be a strict JSON object.

Where we deliberately differ from the vLLM expectation, the row says why, by these keys:
- TEXT: text around a block is content (vLLM's llama3_json drops it: content None).
- OBJECT: arguments must be a JSON object; a string that does not hold one makes the block
  content (hermes serializes any string: `"hello"`).
- ALL: a block is all calls or none; one bad call makes the whole block content, unchanged
  (vLLM's pythonic salvages the good siblings), so streaming never sends a call it takes back.
- LIST: several calls are one JSON list; text after a complete call (`; {...}`) is content.
- EMPTY: a call without arguments has `{}` (llama3_json rejects it).

Skipped source cases (vLLM internals with no counterpart here):
- llama3_json and pythonic test_regex_timeout_handling: they mock the parser's regex to raise
  TimeoutError; ours has no regex. Their pathological inputs are rows here.
- pythonic test_streaming_mismatched_brackets_reported_once: the log-count part (its input is a
  row); `assert_one_tool_per_delta` in vLLM's stream helper (each call goes out whole anyway).
- hermes: the Granite4ToolParser parametrization and the hub tokenizer (Qwen3-32B).
- entrypoints hermes test_tool_call_stream: needs a local model path (it always fails without
  one); its input is the non-ASCII row below.
"""

from __future__ import annotations

import json

import pytest

from tests.parsers.drive import CharTokenizer, Result, non_streaming, streaming
from tests.parsers.test_adapted_reasoning import OPEN, stream_ways

J, M = "llama_nemotron_json", "nemotron_mini"
STEPS = (1, 2, 3, 5, 8)
TEMP = '{"location": "San Francisco", "unit": "celsius"}'
TRIGGER = [("final_answer", '{"trigger": true}')]
SF = '{"city": "San Francisco", "metric": "celsius"}'
USER = ('{"name": "John Doe", "age": 37, "address": {"city": "San Francisco", "state": "CA"}, '
        '"role": null, "passed_test": true, "aliases": ["John", "Johnny"]}')
MORE_TYPES = ("register_user(name='John Doe', age=37, address={'city': 'San Francisco', "
              "'state': 'CA'}, role=None, passed_test=True, aliases=['John', 'Johnny'])")
TIMEOUT_INPUT = "[A(A=" + "\t)A(A=,\t" * 2


def search(query):
    return json.dumps({"name": "searchTool", "parameters": {"query": query}})


GET_OPEN = '{"name": "getOpenIncidentsTool", "parameters": {}}'
SEARCH_CALLS = [("searchTool", '{"query": "test1"}'), ("getOpenIncidentsTool", "{}"),
                ("searchTool", '{"query": "test2"}')]


def row(tool, text, content, calls=(), *, id, bug=None):
    """One case. `text` is the output, or a tuple of the source's own deltas."""
    marks = [pytest.mark.xfail(strict=True, reason=f"bug: {bug}")] if bug else []
    return pytest.param(tool, text, content, list(calls), id=id, marks=marks)


def same(tool, text, *, id, bug=None):
    """Not a call: the output comes back unchanged as content."""
    return row(tool, text, text, id=id, bug=bug)


ROWS = [
    # vLLM tests/tool_parsers/test_hermes_tool_parser.py::
    # test_hermes_parser_streaming_just_forward_text
    same(J, "This is some prior text that has nothing to do with tool calling.",
         id="hermes-just_forward_text"),
    # ... test_hermes_parser_streaming_failure_case_bug_19056 (also
    # test_hermes_parser_non_streaming_tool_call_between_tags,
    # test_hermes_streaming_boolean_args_with_stream_interval)
    row(J, '<TOOLCALL>\n[{"name": "final_answer", "arguments": {"trigger": true}}]\n</TOOLCALL>',
        "", TRIGGER, id="hermes-bug_19056"),
    # ... test_hermes_parser_streaming (no space after "," and ":" in the source)
    row(J, '<TOOLCALL>[{"name": "get_current_temperature","arguments": {"location":"San Francisco'
        ', California, United States", "unit": "celsius"}}]</TOOLCALL>', "",
        [("get_current_temperature",
          '{"location":"San Francisco, California, United States", "unit": "celsius"}')],
        id="hermes-streaming"),
    # ... test_hermes_streaming_tool_call_with_stream_interval
    row(J, f'<TOOLCALL>[{{"name": "get_current_temperature", "arguments": {TEMP}}}]</TOOLCALL>',
        "", [("get_current_temperature", TEMP)], id="hermes-tool_call_with_stream_interval"),
    # ... test_hermes_streaming_content_then_tool_call_with_stream_interval
    row(J, 'Sure, let me check the weather.<TOOLCALL>[{"name": "get_weather", "arguments": '
        '{"city": "NYC"}}]</TOOLCALL>', "Sure, let me check the weather.",
        [("get_weather", '{"city": "NYC"}')], id="hermes-content_then_tool_call"),
    # ... test_hermes_streaming_multiple_tool_calls_with_stream_interval: two blocks ...
    row(J, '<TOOLCALL>[{"name": "search", "arguments": {"q": "cats"}}]</TOOLCALL>'
        '<TOOLCALL>[{"name": "search", "arguments": {"q": "dogs"}}]</TOOLCALL>', "",
        [("search", '{"q": "cats"}'), ("search", '{"q": "dogs"}')], id="hermes-multiple-blocks"),
    # ... and the same two calls as our family writes them, one list
    row(J, '<TOOLCALL>[{"name": "search", "arguments": {"q": "cats"}}, '
        '{"name": "search", "arguments": {"q": "dogs"}}]</TOOLCALL>', "",
        [("search", '{"q": "cats"}'), ("search", '{"q": "dogs"}')], id="hermes-multiple-list"),
    # ... test_hermes_streaming_just_forward_text_with_stream_interval
    same(J, "This is plain text with no tool calling involved.",
         id="hermes-just_forward_text_with_stream_interval"),
    # ... test_hermes_parser_non_streaming_no_tool_call
    same(J, "This is not a tool call.", id="hermes-no_tool_call"),
    # ... test_hermes_parser_non_streaming_tool_call_until_eos
    row(J, '<TOOLCALL>\n[{"name": "final_answer", "arguments": {"trigger": true}}]', "",
        TRIGGER, id="hermes-tool_call_until_eos"),
    # ... test_hermes_parser_non_streaming_serialized_arguments (also
    # test_hermes_streaming_serialized_arguments_with_stream_interval and the first
    # args_value of test_hermes_streaming_string_arguments_match_non_streaming)
    row(J, '<TOOLCALL>\n[{"name": "get_db_config", "arguments": '
        '"{\\"param\\": \\"max_connections\\"}"}]\n</TOOLCALL>', "",
        [("get_db_config", '{"param": "max_connections"}')], id="hermes-serialized_arguments"),
    # ... test_hermes_parser_non_streaming_bare_string_arguments (also
    # test_hermes_streaming_bare_string_arguments_with_stream_interval) (OBJECT)
    same(J, '<TOOLCALL>\n[{"name": "do_thing", "arguments": "hello"}]\n</TOOLCALL>',
         id="hermes-bare_string_arguments"),
    # ... test_hermes_streaming_string_arguments_match_non_streaming, the other args_value
    # strings (OBJECT); both paths agree, as the source asks
    same(J, '<TOOLCALL>[{"name": "f", "arguments": "{hello world}"}]</TOOLCALL>',
         id="hermes-string_arguments-looks_structured"),
    same(J, '<TOOLCALL>[{"name": "f", "arguments": "[oops"}]</TOOLCALL>',
         id="hermes-string_arguments-open_bracket"),
    same(J, '<TOOLCALL>[{"name": "f", "arguments": "{\\"a\\": 1} tail text"}]</TOOLCALL>',
         id="hermes-string_arguments-tail_text"),
    # ... test_hermes_streaming_content_and_tool_call_in_single_chunk
    row(J, ('Hi!<TOOLCALL>[{"name": "f", "arguments": {"x": 1}}]</TOOLCALL>',), "Hi!",
        [("f", '{"x": 1}')], id="hermes-content_and_tool_call_in_single_chunk"),
    # The hermes cases for nemotron_mini, whose block holds one object as hermes' does
    # (arguments come back re-serialized: json.dumps, non-ASCII kept).
    # vLLM tests/tool_parsers/test_hermes_tool_parser.py::
    # test_hermes_parser_streaming_just_forward_text
    same(M, "This is some prior text that has nothing to do with tool calling.",
         id="mini-hermes-just_forward_text"),
    # ... test_hermes_parser_streaming_failure_case_bug_19056 (and the two like it, above)
    row(M, '<toolcall>\n{"name": "final_answer", "arguments": {"trigger": true}}\n</toolcall>',
        "", TRIGGER, id="mini-hermes-bug_19056"),
    # ... test_hermes_parser_streaming
    row(M, '<toolcall>{"name": "get_current_temperature","arguments": {"location":"San '
        'Francisco, California, United States", "unit": "celsius"}}</toolcall>', "",
        [("get_current_temperature",
          '{"location": "San Francisco, California, United States", "unit": "celsius"}')],
        id="mini-hermes-streaming"),
    # ... test_hermes_streaming_content_then_tool_call_with_stream_interval
    row(M, 'Sure, let me check the weather.<toolcall>{"name": "get_weather", "arguments": '
        '{"city": "NYC"}}</toolcall>', "Sure, let me check the weather.",
        [("get_weather", '{"city": "NYC"}')], id="mini-hermes-content_then_tool_call"),
    # ... test_hermes_streaming_multiple_tool_calls_with_stream_interval
    row(M, '<toolcall>{"name": "search", "arguments": {"q": "cats"}}</toolcall>'
        '<toolcall>{"name": "search", "arguments": {"q": "dogs"}}</toolcall>', "",
        [("search", '{"q": "cats"}'), ("search", '{"q": "dogs"}')],
        id="mini-hermes-multiple_tool_calls"),
    # ... test_hermes_parser_non_streaming_no_tool_call
    same(M, "This is not a tool call.", id="mini-hermes-no_tool_call"),
    # ... test_hermes_parser_non_streaming_tool_call_until_eos
    row(M, '<toolcall>\n{"name": "final_answer", "arguments": {"trigger": true}}', "", TRIGGER,
        id="mini-hermes-tool_call_until_eos"),
    # ... test_hermes_parser_non_streaming_tool_call_invalid_json (held until the block ends,
    # so both paths give the unchanged text)
    same(M, '<toolcall>\n{"name": "final_answer", "arguments": {"trigger": true}',
         id="mini-hermes-tool_call_invalid_json"),
    # ... test_hermes_parser_non_streaming_serialized_arguments (kept as the model wrote it)
    row(M, '<toolcall>\n{"name": "get_db_config", "arguments": '
        '"{\\"param\\": \\"max_connections\\"}"}\n</toolcall>', "",
        [("get_db_config", '{"param": "max_connections"}')],
        id="mini-hermes-serialized_arguments"),
    # ... test_hermes_parser_non_streaming_bare_string_arguments (OBJECT)
    same(M, '<toolcall>\n{"name": "do_thing", "arguments": "hello"}\n</toolcall>',
         id="mini-hermes-bare_string_arguments"),
    # ... test_hermes_streaming_string_arguments_match_non_streaming (OBJECT)
    same(M, '<toolcall>{"name": "f", "arguments": "{hello world}"}</toolcall>',
         id="mini-hermes-string_arguments-looks_structured"),
    same(M, '<toolcall>{"name": "f", "arguments": "{\\"a\\": 1} tail text"}</toolcall>',
         id="mini-hermes-string_arguments-tail_text"),
    # ... test_hermes_streaming_content_and_tool_call_in_single_chunk
    row(M, ('Hi!<toolcall>{"name": "f", "arguments": {"x": 1}}</toolcall>',), "Hi!",
        [("f", '{"x": 1}')], id="mini-hermes-content_and_tool_call_in_single_chunk"),
    # vLLM tests/tool_parsers/test_llama3_json_tool_parser.py::test_extract_tool_calls_simple
    # (TEXT)
    row(J, 'Here is the result: <TOOLCALL>[{"name": "getOpenIncidentsTool", "parameters": {}}]'
        '</TOOLCALL> Would you like to know more?', "Here is the result:  Would you like to "
        "know more?", [("getOpenIncidentsTool", "{}")], id="llama3-simple"),
    # ... test_extract_tool_calls_with_arguments
    row(J, '<TOOLCALL>[{"name": "searchTool", "parameters": {"query": "test query", "limit": 10}}]'
        '</TOOLCALL>', "", [("searchTool", '{"query": "test query", "limit": 10}')],
        id="llama3-with_arguments"),
    # ... test_extract_tool_calls_no_json
    same(J, "This is just some text without any tool calls", id="llama3-no_json"),
    # ... test_extract_tool_calls_with_arguments_key
    row(J, '<TOOLCALL>[{"name": "searchTool", "arguments": {"query": "test"}}]</TOOLCALL>', "",
        [("searchTool", '{"query": "test"}')], id="llama3-with_arguments_key"),
    # ... test_extract_tool_calls_multiple_json, as our list ...
    row(J, f'<TOOLCALL>[{search("test1")}, {GET_OPEN}, {search("test2")}]</TOOLCALL>', "",
        SEARCH_CALLS, id="llama3-multiple_json"),
    # ... and as llama3 writes it, `;`-joined: the first object is the call (a bare call), the
    # rest is text (LIST)
    row(J, f'<TOOLCALL>{search("test1")}; {GET_OPEN}</TOOLCALL>', f"; {GET_OPEN}</TOOLCALL>",
        SEARCH_CALLS[:1], id="llama3-multiple_json-semicolons"),
    # ... test_extract_tool_calls_multiple_json_with_whitespace
    row(J, f'<TOOLCALL>[{search("test1")} , {GET_OPEN} , {search("test2")}]</TOOLCALL>', "",
        SEARCH_CALLS, id="llama3-multiple_json_with_whitespace"),
    # ... test_extract_tool_calls_multiple_json_with_surrounding_text (TEXT)
    row(J, f'Here are the results: <TOOLCALL>[{search("test1")}, {GET_OPEN}, {search("test2")}]'
        "</TOOLCALL> Would you like to know more?",
        "Here are the results:  Would you like to know more?", SEARCH_CALLS,
        id="llama3-multiple_json_with_surrounding_text"),
    # ... test_extract_tool_calls_deeply_nested_json
    row(J, '<TOOLCALL>[{"name": "complexTool", "parameters": {"level1": {"level2": {"level3": '
        '{"level4": {"value": "deep"}}}}}}]</TOOLCALL>', "",
        [("complexTool", '{"level1": {"level2": {"level3": {"level4": {"value": "deep"}}}}}')],
        id="llama3-deeply_nested_json"),
    # ... test_extract_tool_calls_multiple_with_deep_nesting
    row(J, '<TOOLCALL>[{"name": "simpleTool", "parameters": {"value": "test"}}, {"name": '
        '"complexTool", "parameters": {"config": {"database": {"connection": {"pool": '
        '{"size": 10}}}}}}]</TOOLCALL>', "",
        [("simpleTool", '{"value": "test"}'),
         ("complexTool", '{"config": {"database": {"connection": {"pool": {"size": 10}}}}}')],
        id="llama3-multiple_with_deep_nesting"),
    # ... test_extract_tool_calls_with_quotes_and_brackets_in_string
    row(J, '<TOOLCALL>[{"name": "searchTool", "parameters": {"query": "test {value} [complex]",'
        '"nested": {"inner": "more {brackets}"}}}]</TOOLCALL>', "",
        [("searchTool",
          '{"query": "test {value} [complex]","nested": {"inner": "more {brackets}"}}')],
        id="llama3-quotes_and_brackets_in_string"),
    # ... test_extract_tool_calls_with_escaped_quotes_in_nested_json
    row(J, '<TOOLCALL>[{"name": "parserTool", "parameters": {"text": "He said \\"Hello {world}'
        '\\""}}]</TOOLCALL>', "",
        [("parserTool", '{"text": "He said \\"Hello {world}\\""}')],
        id="llama3-escaped_quotes_in_nested_json"),
    # ... test_extract_tool_calls_missing_name_key
    same(J, '<TOOLCALL>[{"parameters": {}}]</TOOLCALL>', id="llama3-missing_name_key"),
    # ... test_extract_tool_calls_missing_parameters_and_arguments_key (EMPTY)
    row(J, '<TOOLCALL>[{"name": "toolWithoutParams"}]</TOOLCALL>', "",
        [("toolWithoutParams", "{}")], id="llama3-missing_parameters_and_arguments_key"),
    # ... test_extract_tool_calls_brace_in_trailing_text
    row(J, f'<TOOLCALL>[{search("test")}]</TOOLCALL> I used {{searchTool}} for this.',
        " I used {searchTool} for this.", [("searchTool", '{"query": "test"}')],
        id="llama3-brace_in_trailing_text"),
    # ... test_extract_tool_calls_json_fragment_in_trailing_text
    row(J, f'<TOOLCALL>[{search("test")}]</TOOLCALL> The arguments I passed were '
        '{"query": "test"}', ' The arguments I passed were {"query": "test"}',
        [("searchTool", '{"query": "test"}')], id="llama3-json_fragment_in_trailing_text"),
    # ... test_extract_tool_calls_streaming_parallel_separators, the separators of a JSON list
    *[row(J, f"<TOOLCALL>[{search('test1')}{sep}{GET_OPEN}]</TOOLCALL>", "", SEARCH_CALLS[:2],
          id=f"llama3-parallel_separators-{sep!r}") for sep in (", ", ",", ",\n", "\n,")],
    # ... test_regex_timeout_handling, its input inside a block
    same(J, "<TOOLCALL>{hello world" + TIMEOUT_INPUT + "</TOOLCALL>",
         id="llama3-regex_timeout_input"),
    # vLLM tests/tool_parsers/test_pythonic_tool_parser.py::test_no_tool_call
    same(J, "How can I help you today?", id="pythonic-no_tool_call"),
    # ... test_tool_call "simple_streaming" / "simple_nonstreaming"
    row(J, "<TOOLCALL>[get_weather(city='San Francisco', metric='celsius')]</TOOLCALL>", "",
        [("get_weather", SF)], id="pythonic-simple"),
    # ... test_tool_call "more_types_*"
    row(J, f"<TOOLCALL>[{MORE_TYPES}]</TOOLCALL>", "", [("register_user", USER)],
        id="pythonic-more_types"),
    # ... test_tool_call "parameterless_*"
    row(J, "<TOOLCALL>[get_weather()]</TOOLCALL>", "", [("get_weather", "{}")],
        id="pythonic-parameterless"),
    # ... test_tool_call "empty_dict_*"
    row(J, "<TOOLCALL>[do_something_cool(additional_data={})]</TOOLCALL>", "",
        [("do_something_cool", '{"additional_data": {}}')], id="pythonic-empty_dict"),
    # ... test_tool_call "empty_list_*"
    row(J, "<TOOLCALL>[do_something_cool(steps=[])]</TOOLCALL>", "",
        [("do_something_cool", '{"steps": []}')], id="pythonic-empty_list"),
    # ... test_tool_call "escaped_string_*"
    row(J, "<TOOLCALL>[get_weather(city='Martha\\'s Vineyard', metric='\\\"cool units\\\"')]"
        "</TOOLCALL>", "",
        [("get_weather", '{"city": "Martha\'s Vineyard", "metric": "\\"cool units\\""}')],
        id="pythonic-escaped_string"),
    # ... test_tool_call "parallel_calls_*"
    row(J, "<TOOLCALL>[get_weather(city='San Francisco', metric='celsius'), "
        f"{MORE_TYPES}]</TOOLCALL>", "", [("get_weather", SF), ("register_user", USER)],
        id="pythonic-parallel_calls"),
    # ... test_streaming_tool_call_with_large_steps (its two deltas)
    row(J, ("<TOOLCALL>[get_weather(city='San", " Francisco', metric='celsius'), get_weather(), "
            "do_something_cool(steps=[])]</TOOLCALL>"), "",
        [("get_weather", SF), ("get_weather", "{}"), ("do_something_cool", '{"steps": []}')],
        id="pythonic-large_steps"),
    # ... test_regex_timeout_handling, its call-like part as a block's list (so that it
    # reaches the pythonic reader)
    same(J, f"<TOOLCALL>{TIMEOUT_INPUT}]</TOOLCALL>", id="pythonic-regex_timeout_input"),
    # ... test_bad_sibling_call_does_not_drop_good_calls (ALL: the bytes value has no JSON form)
    same(J, "<TOOLCALL>[bad(x=b'z'), get_weather(city='San Francisco', metric='celsius')]"
         "</TOOLCALL>", id="pythonic-bad_sibling_call"),
    # ... test_non_finite_argument_rejected (ALL): 1e999 is inf, which has no JSON form
    same(J, "<TOOLCALL>[calc(x=1e999), get_weather(city='San Francisco', metric='celsius')]"
         "</TOOLCALL>", id="pythonic-non_finite_argument"),
    # ... the same in the JSON form: 1e999 is a JSON number, kept as written ...
    row(J, '<TOOLCALL>[{"name": "calc", "arguments": {"x": 1e999}}]</TOOLCALL>', "",
        [("calc", '{"x": 1e999}')], id="pythonic-non_finite_argument-json_number"),
    # ... but NaN is not JSON at all: the block is malformed (see BROKEN below)
    # ... and for nemotron_mini, which re-serializes arguments: a JSON grammar accepts the
    # number, so a forced call holding it stays a call (issue 23); written back as 1e999
    row(M, '<toolcall>{"name": "calc", "arguments": {"x": 1e999}}</toolcall>', "",
        [("calc", '{"x": 1e999}')], id="mini-pythonic-non_finite_argument"),
    # ... test_good_call_survives_unparsable_sibling (ALL)
    same(J, "<TOOLCALL>[get_weather(city='San Francisco', metric='celsius'), "
         "f(a='x 'y', b='z')]</TOOLCALL>", id="pythonic-unparsable_sibling"),
    # ... test_unrecoverable_block_still_reports_no_tool_call
    same(J, "<TOOLCALL>[f(a='x 'y' 'z), g(b='p 'q' 'r)]</TOOLCALL>",
         id="pythonic-unrecoverable_block"),
    # ... test_streaming_mismatched_brackets_reported_once (its input)
    same(J, "<TOOLCALL>[foo(x=1])]</TOOLCALL>", id="pythonic-mismatched_brackets"),
]


def _finite_only(constant):
    raise ValueError(f"{constant} is not JSON")


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("tool,text,content,calls", ROWS)
def test_adapted(tag_tokenizer, tags, tool, text, content, calls):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    deltas = text if isinstance(text, tuple) else None
    text = "".join(deltas) if deltas else text
    expected = Result("", content, calls).normalized()
    got = non_streaming(tok, text, tool=tool)
    for _, arguments in got.calls:
        assert isinstance(json.loads(arguments, parse_constant=_finite_only), dict)
    assert got.normalized() == expected
    for chunks in stream_ways(tok, text, deltas, STEPS):
        assert streaming(tok, chunks, tool=tool).normalized() == expected, [t for t, _ in chunks]


# Blocks that never become valid, though a call's name and arguments began: content, unchanged,
# streamed in every way as well as whole (a block's calls go out only once it is complete,
# llama_nemotron_json's module docstring). Nothing raises, no text is lost.
# (tool, output)
BROKEN = [
    # vLLM tests/tool_parsers/test_hermes_tool_parser.py::
    # test_hermes_parser_non_streaming_tool_call_invalid_json (cut off before "}]")
    pytest.param(J, '<TOOLCALL>\n[{"name": "final_answer", "arguments": {"trigger": true}',
                 id="hermes-tool_call_invalid_json"),
    # vLLM tests/tool_parsers/test_llama3_json_tool_parser.py::
    # test_extract_tool_calls_invalid_json
    pytest.param(J, '<TOOLCALL>[{"name": "invalidTool", "parameters": {invalid json}]</TOOLCALL>',
                 id="llama3-invalid_json"),
    # vLLM tests/tool_parsers/test_pythonic_tool_parser.py::test_non_finite_argument_rejected,
    # in the JSON form: NaN is not JSON, found only after the arguments began
    pytest.param(J, '<TOOLCALL>[{"name": "calc", "arguments": {"x": NaN}}]</TOOLCALL>',
                 id="pythonic-non_finite_argument-json_nan"),
]


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("tool,text", BROKEN)
def test_adapted_broken_block_is_content_both_ways(tag_tokenizer, tags, tool, text):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    assert non_streaming(tok, text, tool=tool) == Result("", text, [])
    for chunks in stream_ways(tok, text, None, STEPS):
        assert streaming(tok, chunks, tool=tool) == Result("", text, []), [t for t, _ in chunks]


# vLLM tests/entrypoints/openai/tool_parsers/test_hermes_tool_parser.py::
# test_tool_call_no_stream "lei_test_streaming_01" and test_tool_call_stream
# "lei_test_streaming_02": a long non-ASCII thought, `</think>`, then a call whose arguments
# are non-ASCII, then whitespace. Our own shorter thought; nano_v3 in front (the whitespace
# after the call is dropped next to a call, as vLLM does).
THOUGHT = "用户想设计一台5MW燃气轮机，需要先确定空气流量（ṁa）和压比（πc）。\n\n"
QUESTION = '{"question": "5MW燃气轮机设计参数 空气流量 压气机压比"}'


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("tool,call", [
    (J, f'<TOOLCALL>\n[{{"name": "internet_search", "arguments": {QUESTION}}}]\n</TOOLCALL>'),
    (M, f'<toolcall>\n{{"name": "internet_search", "arguments": {QUESTION}}}\n</toolcall>'),
])
def test_adapted_thought_then_non_ascii_call(tag_tokenizer, tags, tool, call):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    text = THOUGHT + "</think>\n\n" + call + "\n\n "
    prompt = tok.encode(OPEN, add_special_tokens=False)
    args = dict(tool=tool, reasoning="nano_v3")
    expected = Result(THOUGHT.strip(), "", [("internet_search", QUESTION)])
    assert non_streaming(tok, text, prompt, **args).normalized() == expected
    for chunks in stream_ways(tok, text, None, STEPS):
        assert streaming(tok, chunks, prompt, **args).normalized() == expected
