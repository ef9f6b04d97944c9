"""`llama_nemotron_json`: a corpus of real-looking outputs, each checked non-streaming and
streamed one character at a time and as tokens (tags as single vocabulary tokens)."""

from __future__ import annotations

import json

import pytest

from tests.parsers.drive import Result, char_chunks, non_streaming, streaming, token_chunks

W = '{"city": "Paris", "days": 3}'

# (output, expected content, expected [(name, arguments)])
CORPUS = [
    ("plain answer, no call", "plain answer, no call", []),
    (f'<TOOLCALL>[{{"name": "get_weather", "arguments": {W}}}]</TOOLCALL>', "",
     [("get_weather", W)]),
    (f'Let me check. <TOOLCALL>[{{"name": "get_weather", "arguments": {W}}}]</TOOLCALL> Done.',
     "Let me check.  Done.", [("get_weather", W)]),
    # bare object, "parameters", arguments before name, extra keys
    (f'<TOOLCALL>{{"name": "f", "parameters": {W}}}</TOOLCALL>', "", [("f", W)]),
    (f'<TOOLCALL>[{{"arguments": {W}, "id": 7, "ok": true, "name": "f"}}]</TOOLCALL>', "",
     [("f", W)]),
    # arguments as a JSON string
    ('<TOOLCALL>[{"name": "f", "arguments": "{\\"a\\": [1, 2]}"}]</TOOLCALL>', "",
     [("f", '{"a": [1, 2]}')]),
    # several calls, whitespace and newlines anywhere, missing arguments
    ('<TOOLCALL>\n[\n {"name" : "f" ,\n  "arguments":{"x":1}} ,\n{"name":"g"}\n]\n</TOOLCALL>',
     "", [("f", '{"x":1}'), ("g", "{}")]),
    # missing </TOOLCALL> after a complete list, at the end and before more text
    ('<TOOLCALL>[{"name": "f", "arguments": {}}]', "", [("f", "{}")]),
    ('<TOOLCALL>[{"name": "f", "arguments": {}}]\nok', "\nok", [("f", "{}")]),
    # quotes, braces, brackets and the tag text inside strings
    ('<TOOLCALL>[{"name": "f", "arguments": {"q": "a \\"}]</TOOLCALL>{[<TOOLCALL>"}}]</TOOLCALL>',
     "", [("f", '{"q": "a \\"}]</TOOLCALL>{[<TOOLCALL>"}')]),
    # two blocks
    ('a<TOOLCALL>[{"name": "f", "arguments": {}}]</TOOLCALL>b'
     '<TOOLCALL>{"name": "g", "arguments": {"y": null}}</TOOLCALL>c',
     "abc", [("f", "{}"), ("g", '{"y": null}')]),
    # a block that breaks on a new opener: the broken part is content, the new block a call
    ('<TOOLCALL><TOOLCALL>[{"name": "f", "arguments": {}}]</TOOLCALL>', "<TOOLCALL>",
     [("f", "{}")]),
    # pythonic form
    ('<TOOLCALL>[get_weather(city="Paris", days=3), f(flag=True, x=None, xs=[1, 2])]</TOOLCALL>',
     "", [("get_weather", '{"city": "Paris", "days": 3}'),
          ("f", '{"flag": true, "x": null, "xs": [1, 2]}')]),
    ("<TOOLCALL>[f()]", "", [("f", "{}")]),
    ("x <TOOLCALL>[m.tool(s='</TOOL', n=-1.5, d={'k': (1, 2)})]</TOOLCALL>", "x ",
     [("m.tool", '{"s": "</TOOL", "n": -1.5, "d": {"k": [1, 2]}}')]),
    ('<TOOLCALL>[{"name": "f", "arguments": {"t": "caf\\u00e9 ☕"}}]</TOOLCALL>', "",
     [("f", '{"t": "caf\\u00e9 ☕"}')]),
]

# Malformed or not a call: unchanged content, no call, no exception.
MALFORMED = [
    "<TOOLCALL>not json</TOOLCALL>",
    "<TOOLCALL>[]</TOOLCALL>",
    "<TOOLCALL>[1, 2]</TOOLCALL>",
    '<TOOLCALL>[{"arguments": {}}]</TOOLCALL>',
    '<TOOLCALL>[{"name": 3, "arguments": {}}]</TOOLCALL>',
    '<TOOLCALL>[{"name": "", "arguments": {}}]</TOOLCALL>',
    '<TOOLCALL>[{"name": "f", "arguments": [1]}]</TOOLCALL>',
    '<TOOLCALL>[{"name": "f", "arguments": "not json"}]</TOOLCALL>',
    "<TOOLCALL>[f(1)]</TOOLCALL>",
    "<TOOLCALL>[f(x=open('/etc/passwd'))]</TOOLCALL>",
    "<TOOLCALL>[f(**kw)]</TOOLCALL>",
    "<TOOLCALL>[__import__('os').system('x')]</TOOLCALL>",
    "<TOOLCALL>",
    "text then <TOOLCALL>[{",
    "<TOOLCALL>[{\"name",
    "<TOOL",
    "half a tag <TOOLCAL",
    "</TOOLCALL> stray end",
    '<TOOLCALL>{"name": "f", "arguments": 5}</TOOLCALL>',
    # blocks that break after a call's name and arguments began (issue 18): content both ways,
    # as a block's calls go out only once it is complete
    '<TOOLCALL>[{"name": "broken", "arguments": {}</TOOLCALL>',
    '<TOOLCALL>[{"name": "f", "arguments": {"a": 1}}, oops]</TOOLCALL>',
    '<TOOLCALL>{"name": "f", "arguments": {}, "name": "g"}</TOOLCALL>',
    '<TOOLCALL>[{"name": "f", "arguments": {"a": tru}}]',
    '<TOOLCALL>[{"name": "f", "arguments": {"a": "cut off',
    '<TOOLCALL>[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {}}',
]


def check_all_ways(tokenizer, text, expected: Result):
    got = non_streaming(None, text, tool="llama_nemotron_json")
    assert got.normalized() == expected
    for n in (1, 3):
        chunks = char_chunks(text, range(0, len(text), n))
        assert streaming(None, chunks, tool="llama_nemotron_json").normalized() == expected
    chunks = token_chunks(tokenizer, text, range(len(text)))
    assert streaming(None, chunks, tool="llama_nemotron_json").normalized() == expected


@pytest.mark.parametrize("text,content,calls", CORPUS)
def test_corpus(tag_tokenizer, text, content, calls):
    expected = Result("", content, calls).normalized()
    check_all_ways(tag_tokenizer, text, expected)
    for _, arguments in calls:
        assert isinstance(json.loads(arguments), dict)


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_is_unchanged_content(tag_tokenizer, text):
    check_all_ways(tag_tokenizer, text, Result("", text, []))


def test_tool_choice_none_returns_no_calls():
    """vLLM's convention for parsers with their own stream state: calls are dropped."""
    from tests.parsers.drive import make, request

    text = 'Hi <TOOLCALL>[{"name": "f", "arguments": {}}]</TOOLCALL>'
    parser = make(None, "llama_nemotron_json")
    _, content, calls = parser.parse(text, request(tool_choice="none"), enable_auto_tools=True)
    assert content == "Hi " and not calls
    parser = make(None, "llama_nemotron_json")
    streamed = [parser.parse_delta(c, [], request(tool_choice="none"), prompt_token_ids=[],
                                   finished=i == len(text) - 1)
                for i, c in enumerate(text)]
    assert "".join(d.content or "" for d in streamed if d) == "Hi "
    assert not any(d.tool_calls for d in streamed if d)


def test_a_blocks_calls_go_out_whole_once_its_list_closes():
    """The price of streaming == non-streaming for broken blocks: a call's arguments do not
    stream piece by piece; each call goes out in one delta, name and arguments, at the `]`."""
    from tests.parsers.drive import make, request

    text = '<TOOLCALL>[{"name": "f", "arguments": {"a": 1}}, {"name": "g"}]</TOOLCALL>'
    parser = make(None, "llama_nemotron_json")
    deltas = [parser.parse_delta(c, [], request(), prompt_token_ids=[],
                                 finished=i == len(text) - 1) for i, c in enumerate(text)]
    sent = [(i, d.tool_calls) for i, d in enumerate(deltas) if d and d.tool_calls]
    assert [(text[i], [(c.index, c.function.name, c.function.arguments) for c in calls])
            for i, calls in sent] == [("]", [(0, "f", '{"a": 1}'), (1, "g", "{}")])]
