"""Property tests: for generated outputs and random chunkings, streaming equals
non-streaming, nothing raises, and no text is lost. No exceptions: a block that breaks after a
call began is content both ways (a block's calls go out only once it is complete). Calls are
read leniently where the meaning is unambiguous (raw control characters inside strings, issue
23) and their arguments are always strict JSON."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.parsers.drive import (
    CharTokenizer,
    Result,
    blank_as_empty,
    char_chunks,
    non_streaming,
    streaming,
    token_chunks,
)

TOK = CharTokenizer()

# Text that likes to look like our tags and JSON.
noise = st.lists(
    st.sampled_from(list("ab <>/{}[]\",:\\TOLCAthink\n") + ["</think>", "<think>", "<TOOLCALL>",
                                                          "</TOOLCALL>", "<TOOL", "</thi", "é"]),
    max_size=12).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-99, 99) | st.text(max_size=6),
    lambda inner: (st.lists(inner, max_size=3)
                   | st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6,
)
names = st.sampled_from(["get_weather", "f", "g"])


# Strings that hold control characters, which a model may write raw (strict JSON escapes them).
control_text = st.text(st.sampled_from(list("ab\t\n\r\x00\x01\x08\x0c\x1f\x7f\"\\é")),
                       max_size=6)
json_values = json_values | control_text
# json.dumps' escapes, left to right: a control character's (group 1), or any other
ESCAPE = re.compile(r'\\(u00[01][0-9a-f]|[bfnrt])|\\.')


def raw_controls(text: str) -> str:
    """json.dumps output with its control characters written raw, as `json.loads(strict=False)`
    reads them: the text a model (or a lenient grammar) might write."""
    def raw(m: re.Match) -> str:
        return m.group() if m.group(1) is None else json.loads(f'"{m.group()}"')
    return ESCAPE.sub(raw, text)


@st.composite
def json_call(draw):
    args = draw(st.dictionaries(st.text(max_size=5) | control_text, json_values, max_size=3))
    key = draw(st.sampled_from(["arguments", "parameters"]))
    indent = draw(st.sampled_from([None, 1]))
    as_string = draw(st.booleans())
    value = json.dumps(args) if as_string else args
    ascii_only = draw(st.booleans())
    text = json.dumps({"name": draw(names), key: value}, indent=indent, ensure_ascii=ascii_only)
    return raw_controls(text) if draw(st.booleans()) else text


@st.composite
def pythonic_call(draw):
    keys = st.from_regex(r"[a-z]{1,4}", fullmatch=True)
    kwargs = draw(st.dictionaries(keys, json_values, max_size=3))
    return f"{draw(names)}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


@st.composite
def tool_block(draw):
    form = draw(st.sampled_from(["list", "bare", "pythonic", "broken"]))
    if form == "list":
        body = "[" + ", ".join(draw(st.lists(json_call(), min_size=1, max_size=3))) + "]"
    elif form == "bare":
        body = draw(json_call())
    elif form == "pythonic":
        body = "[" + ", ".join(draw(st.lists(pythonic_call(), min_size=1, max_size=2))) + "]"
    else:
        body = draw(json_call())
        body = body[: draw(st.integers(0, len(body)))] + draw(noise)
    end = draw(st.sampled_from(["</TOOLCALL>", "</TOOLCALL>", ""]))
    return "<TOOLCALL>" + body + end


outputs = st.lists(noise | tool_block(), max_size=4).map("".join)
cuts = st.lists(st.integers(0, 400), max_size=40)


def settings_():
    return settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


NAMED = {"type": "function", "function": {"name": "g"}}


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def assert_strict_arguments(result: Result) -> None:
    """Every call's arguments are a strict JSON object (what clients parse)."""
    for _, arguments in result.calls:
        assert isinstance(json.loads(arguments, parse_constant=_not_json), dict), arguments


@settings_()
@given(outputs, cuts, st.sampled_from(["auto", "required", NAMED]))
def test_tool_streaming_equals_non_streaming(text, cut, tool_choice):
    """Every output, every chunking, broken blocks included; a forced call's output (required,
    named) is read as starting inside a block, and the law holds there too."""
    args = dict(tool="llama_nemotron_json", tool_choice=tool_choice)
    expected = blank_as_empty(non_streaming(TOK, text, **args).normalized())
    assert blank_as_empty(streaming(TOK, char_chunks(text, cut), **args).normalized()) == expected
    assert_strict_arguments(expected)
    if not expected.calls:
        assert expected.content == (text if text.strip() else "")


forced_outputs = st.lists(noise | tool_block(), max_size=3).map(
    lambda parts: "".join(parts).removeprefix("<TOOLCALL>"))


@settings_()
@given(forced_outputs, cuts, st.sampled_from(["required", NAMED]))
def test_forced_call_streaming_equals_non_streaming(text, cut, tool_choice):
    """What a forced call's grammar lets through (a block's body without its opener), and
    anything else, reads the same streamed and whole."""
    args = dict(tool="llama_nemotron_json", tool_choice=tool_choice)
    expected = blank_as_empty(non_streaming(TOK, text, **args).normalized())
    assert blank_as_empty(streaming(TOK, char_chunks(text, cut), **args).normalized()) == expected
    assert_strict_arguments(expected)
    if not expected.calls:
        assert expected.content == (text if text.strip() else "")


# Each reasoning parser's tool-call openers (implicit ends of reasoning).
OPENERS = {"nano_v3": ["<TOOLCALL>", "<tool_call>"], "super_v3": ["<TOOLCALL>", "<tool_call>"],
           "llama_nemotron_thinking": ["<TOOLCALL>"]}
PROMPTS = {"nano_v3": "<|im_start|>assistant\n<think>\n",
           "super_v3": "<|im_start|>assistant\n<think>\n",
           "llama_nemotron_thinking": "detailed thinking on"}


def reference_split(text: str, name: str, kwargs: dict) -> tuple[str, str]:
    """An independent statement of the split: (reasoning, content) of an output."""
    opens = text.startswith("<think>")
    if name != "llama_nemotron_thinking":  # the prompt left <think> open, whatever the kwargs
        body = text[len("<think>"):] if opens else text
    elif opens:
        body = text[len("<think>"):]
    else:
        return "", text
    ends = [(body.find(t), t) for t in ["</think>", *OPENERS[name]] if t in body]
    at, tag = min(ends) if ends else (len(body), "")
    reasoning = body[:at].rstrip()
    content = body[at + len("</think>"):] if tag == "</think>" else body[at:]
    forced = kwargs.get("force_nonempty_content") or kwargs.get("enable_thinking") is False
    if forced and reasoning and not content.strip():
        content = reasoning
    return reasoning, content


TOOL_CALL_TEXT = '<TOOLCALL>{"name": "f"}</TOOLCALL>'


reasoning_outputs = st.lists(noise | st.sampled_from(
    ["</think>", "<think>", TOOL_CALL_TEXT, "<tool_call>", " \n"]), max_size=6).map("".join)
template_kwargs = st.sampled_from(
    [{}, {"enable_thinking": False}, {"force_nonempty_content": True}])


def check_reasoning_law(tok, text: str, chunks, name: str, kwargs: dict) -> None:
    """Streamed in these chunks == not streamed == the reference split."""
    prompt = tok.encode(PROMPTS[name], add_special_tokens=False)
    args = dict(tool="llama_nemotron_json", reasoning=name, **kwargs)
    expected = non_streaming(tok, text, prompt, **args).normalized()
    got = streaming(tok, chunks, prompt, **args).normalized()
    assert got == expected
    reasoning, content = reference_split(text, name, kwargs)
    assert expected.reasoning == reasoning
    if not expected.calls:
        assert expected.content == content


@pytest.mark.parametrize("name", list(OPENERS))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=reasoning_outputs, cut=cuts, kwargs=template_kwargs)
def test_reasoning_streaming_equals_non_streaming(name, text, cut, kwargs):
    """Tags cut into characters (one token per character), any chunking."""
    check_reasoning_law(TOK, text, char_chunks(text, cut), name, kwargs)


@pytest.mark.parametrize("name", list(OPENERS))
@settings_()
@given(text=reasoning_outputs, cut=cuts, kwargs=template_kwargs)
def test_reasoning_streaming_equals_non_streaming_tag_tokens(tag_tokenizer, name, text, cut,
                                                            kwargs):
    """Tags as single vocabulary tokens (the harness tokenizer), cut between any tokens."""
    check_reasoning_law(tag_tokenizer, text, token_chunks(tag_tokenizer, text, cut), name, kwargs)


MINI_PIECES = ['<toolcall>{"name": "f", "arguments": {"a": 1}}</toolcall>',
               '<toolcall> [{"name": "g", "parameters": {}}] </toolcall>',
               "<toolcall>{bad}</toolcall>", "<toolcall>", "</toolcall>",
               '[{"name": "g", "parameters": {"a": 1}}]',  # a forced call's output
               '<toolcall>{"name": "f", "arguments": {"a\tb": "x\ty\x01"}}</toolcall>',
               '[{"name": "g", "parameters": {"a": "\n\x1f"}}]']  # raw control characters


@settings_()
@given(st.lists(noise | st.sampled_from(MINI_PIECES), max_size=6).map("".join), cuts,
       st.sampled_from(["auto", "required", NAMED]))
def test_nemotron_mini_streaming_equals_non_streaming(text, cut, tool_choice):
    args = dict(tool="nemotron_mini", tool_choice=tool_choice)
    expected = blank_as_empty(non_streaming(TOK, text, **args).normalized())
    assert blank_as_empty(streaming(TOK, char_chunks(text, cut), **args).normalized()) == expected
    assert_strict_arguments(expected)
    if not expected.calls:
        assert expected.content == (text if text.strip() else "")


BLOCKS = {"llama_nemotron_json": ("<TOOLCALL>", "</TOOLCALL>"),
          "nemotron_mini": ("<toolcall>", "</toolcall>")}


@settings_()
@given(st.dictionaries(st.text(max_size=5) | control_text, json_values, max_size=3),
       st.sampled_from(["arguments", "parameters"]), st.booleans(), cuts,
       st.sampled_from(list(BLOCKS)), st.sampled_from(["auto", "required", NAMED]))
def test_raw_control_characters_are_read_as_the_call(args, key, compact, cut, tool, tool_choice):
    """A call whose strings hold raw control characters is the call it reads as (leniently),
    forced or not, streamed or not, with strict JSON arguments of the same value."""
    text = raw_controls(json.dumps([{"name": "g", key: args}], ensure_ascii=False,
                                   separators=(",", ":") if compact else None))
    if tool_choice == "auto":
        text = BLOCKS[tool][0] + text + BLOCKS[tool][1]
    args_ = dict(tool=tool, tool_choice=tool_choice)
    expected = non_streaming(TOK, text, **args_).normalized()
    assert streaming(TOK, char_chunks(text, cut), **args_).normalized() == expected
    assert [name for name, _ in expected.calls] == ["g"] and expected.content == ""
    assert_strict_arguments(expected)
    assert json.loads(expected.calls[0][1]) == args
