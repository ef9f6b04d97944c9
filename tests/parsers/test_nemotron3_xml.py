"""`nemotron3_xml`: Nemotron 3 tool calls as the models write them (issue 23).

Every row runs whole and streamed (one character at a time, every 3 and 7 characters, one
delta, and as tokens with `<tool_call>` as one token), and must give the row's content and
calls; the property tests state the laws for generated outputs and chunkings. vLLM's own
qwen3_coder cases are in test_adapted_nemotron3_xml.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vllm.tool_parsers.utils import get_json_schema_from_tools

import tests.parsers.drive as drive
import vllm_nemotron.parsers.nemotron3_xml_tool_parser  # noqa: F401  (registers the name)
from tests.parsers.drive import (
    CharTokenizer,
    Result,
    blank_as_empty,
    char_chunks,
    make,
    non_streaming,
    request,
    streaming,
    token_chunks,
)

TOOL = "nemotron3_xml"


def tool(name, **props):
    return {"type": "function", "function": {
        "name": name, "parameters": {"type": "object", "properties": props}}}


TOOLS = [
    tool("get_weather", city={"type": "string"}, days={"type": "integer"},
         unit={"type": "string", "enum": ["c", "f"]}),
    tool("run_shell", cmd={"type": "string"}),
    tool("calc", x={"type": "number"}, n={"type": "integer"}, flags={"type": "array"},
         opt={"type": ["boolean", "null"]}, data={"type": "object"},
         maybe={"anyOf": [{"type": "integer"}, {"type": "null"}]},
         nums={"type": "array", "items": {"type": "integer"}}),
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
]


@pytest.fixture(scope="module", autouse=True)
def tools():
    """drive.py's requests and parsers carry these tools while this module runs."""
    saved, drive.TOOLS = drive.TOOLS, TOOLS
    yield
    drive.TOOLS = saved


def call(name, **args):
    return (name, json.dumps(args, ensure_ascii=False))


def block(name, *params, wrap=True, close_last=True, end_function=True):
    body = "".join(f"<parameter={p}>\n{v}\n</parameter>\n" for p, v in params)
    if not close_last and params:
        body = body[: -len("</parameter>\n")]
    text = f"<function={name}>\n{body}" + ("</function>\n" if end_function else "")
    return f"<tool_call>\n{text}</tool_call>" if wrap else text


CAIRO = block("get_weather", ("city", "Cairo"))
SHELL = "printf '<parameter=x>\\n%s\\n</parameter>\\n' hi </function> done"

# (id, output, content, calls)
ROWS = [
    ("plain text", "Just text, no call.", "Just text, no call.", []),
    ("one call", CAIRO, "", [call("get_weather", city="Cairo")]),
    ("text before and after", "Let me check.\n" + CAIRO + "\nDone.", "Let me check.\n\nDone.",
     [call("get_weather", city="Cairo")]),
    # issue 23: the models may drop the last </parameter> (llama.cpp PR 18077)
    ("no last </parameter>",
     "<tool_call>\n<function=get_weather>\n<parameter=city>\nCairo\n</function>\n</tool_call>",
     "", [call("get_weather", city="Cairo")]),
    ("no </parameter> anywhere",
     "<tool_call>\n<function=get_weather>\n<parameter=city>\nCairo\n<parameter=days>\n3\n"
     "</function>\n</tool_call>", "", [call("get_weather", city="Cairo", days=3)]),
    ("no </parameter>, no </function>",
     "<tool_call>\n<function=get_weather>\n<parameter=city>\nCairo\n</tool_call>", "",
     [call("get_weather", city="Cairo")]),
    ("no closing tag at all", "<tool_call>\n<function=get_weather>\n<parameter=city>\nCairo",
     "", [call("get_weather", city="Cairo")]),
    ("no </tool_call>", block("get_weather", ("city", "Cairo"))[: -len("</tool_call>")], "",
     [call("get_weather", city="Cairo")]),
    # Rapid-MLX PR 1031: a bare <function=...>, prose between <tool_call> and <function=
    ("bare function block", "Checking. " + block("get_weather", ("city", "Cairo"), wrap=False)
     + "Here it is.", "Checking. \nHere it is.", [call("get_weather", city="Cairo")]),
    ("bare block, no </parameter>", "<function=get_weather>\n<parameter=city>\nCairo\n</function>",
     "", [call("get_weather", city="Cairo")]),
    ("prose in the wrapper", "<tool_call>\nI will look it up.\n" + CAIRO[len("<tool_call>\n"):],
     "", [call("get_weather", city="Cairo")]),
    ("opener twice", "<tool_call>" + CAIRO, "", [call("get_weather", city="Cairo")]),
    # ninfer issue 138: a value that holds tool-call markup is kept byte for byte
    ("markup in a value", block("run_shell", ("cmd", SHELL)), "", [call("run_shell", cmd=SHELL)]),
    ("markup in a value, no </parameter>", block("run_shell", ("cmd", SHELL), close_last=False),
     "", [call("run_shell", cmd=SHELL)]),
    ("</parameter> inside a value", block("run_shell", ("cmd", "a</parameter>b")), "",
     [call("run_shell", cmd="a</parameter>b")]),
    ("the tool's own parameter ends a value", "<tool_call>\n<function=get_weather>\n"
     "<parameter=city>\nCairo <parameter=x> y\n<parameter=unit>\nc\n</function>", "",
     [call("get_weather", city="Cairo <parameter=x> y", unit="c")]),
    ("a tool without properties takes any name", "<function=f>\n<parameter=a>\n1\n"
     "<parameter=b>\n2\n</function>", "", [call("f", a="1", b="2")]),
    ("outside the schema: a string", block("get_weather", ("city", "Cairo"), ("note", "42")), "",
     [call("get_weather", city="Cairo", note="42")]),
    ("unknown tool", block("nope", ("a", "1")), "", [call("nope", a="1")]),
    ("two calls", CAIRO + "\n" + CAIRO.replace("Cairo", "Rome"), "",
     [call("get_weather", city="Cairo"), call("get_weather", city="Rome")]),
    ("two calls, only </tool_call> between", "<tool_call>\n<function=get_weather>\n"
     "<parameter=city>\nCairo\n</tool_call><tool_call>\n<function=get_weather>\n"
     "<parameter=city>\nRome",
     "", [call("get_weather", city="Cairo"), call("get_weather", city="Rome")]),
    ("no parameters", "<tool_call>\n<function=f>\n</function>\n</tool_call>", "", [call("f")]),
    ("non-ASCII", block("get_weather", ("city", "Zürich 東京")), "",
     [call("get_weather", city="Zürich 東京")]),
    ("multi-line value", block("run_shell", ("cmd", "line 1\n\nline 3\n")), "",
     [call("run_shell", cmd="line 1\n\nline 3\n")]),
    # malformed: content, unchanged
    ("function tag without >", "<tool_call>\n<function=get_weather\n<parameter=city>\nX\n"
     "</parameter>\n</function>\n</tool_call>", None, []),
    ("a block with no function", "<tool_call>\nnothing here\n</tool_call> after", None, []),
    ("cut off in the opener", "Text <tool_ca", None, []),
    ("cut off in a tag", "<tool_call>\n<function=get_weather>\n<parameter=ci", None, []),
    ("cut off in the name", "<tool_call>\n<function=get_wea", None, []),
    ("text where a tag must be", "<tool_call>\n<function=f>\nhello\n</function>", None, []),
    ("a bad block, then a good one", "<tool_call>\n<function=bad\n</function>\n</tool_call>\n"
     + CAIRO, "<tool_call>\n<function=bad\n</function>\n</tool_call>\n",
     [call("get_weather", city="Cairo")]),
]


def all_ways(tok, text):
    ways = [char_chunks(text, range(len(text))), char_chunks(text, range(0, len(text), 3)),
            char_chunks(text, range(0, len(text), 7)), char_chunks(text, ())]
    if not isinstance(tok, CharTokenizer):
        n = len(tok.encode(text, add_special_tokens=False))
        ways += [token_chunks(tok, text, range(0, n, step)) for step in (1, 2)]
    return ways


def check_all_ways(tok, text, expected: Result, prompt_ids=(), **kw):
    kw.setdefault("tool", TOOL)
    got = non_streaming(tok, text, prompt_ids, **kw).normalized()
    assert got == expected.normalized()
    for chunks in all_ways(tok, text):
        assert streaming(tok, chunks, prompt_ids, **kw).normalized() == got, \
            [t for t, _ in chunks]


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("text,content,calls", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_rows(tag_tokenizer, tags, text, content, calls):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    check_all_ways(tok, text, Result("", text if content is None else content, calls))


# (id, parameter of calc, value as written, the argument)
TYPED = [
    ("integer", "n", "42", 42),
    ("integer written as 3.0", "n", "3.0", 3),
    ("negative number", "x", "-2.5", -2.5),
    ("number, exponent", "x", "1e3", 1000.0),
    ("not a number stays a string", "x", "about 3", "about 3"),
    ("infinity stays a string", "x", "1e999", "1e999"),
    ("boolean", "opt", "true", True),
    ("Python boolean", "opt", "False", False),
    ("null", "opt", "null", None),
    ("Python None", "opt", "None", None),
    ("JSON array", "flags", '["a", 1, true]', ["a", 1, True]),
    ("Python list", "flags", "['a', 1, True, None]", ["a", 1, True, None]),
    ("Python tuple", "flags", "('a', 2)", ["a", 2]),
    ("JSON object", "data", '{"k": [1, 2], "v": null}', {"k": [1, 2], "v": None}),
    ("Python dict", "data", "{'k': 'v', 'n': False}", {"k": "v", "n": False}),
    ("object over lines", "data", '{"width": 10,\n "height": 20}', {"width": 10, "height": 20}),
    ("not an object stays a string", "data", "{oops", "{oops"),
    ("an array is not an object", "data", "[1]", "[1]"),
    ("anyOf integer or null", "maybe", "7", 7),
    ("anyOf: None", "maybe", "None", None),
    ("items typed by the schema", "nums", '["1", 2]', [1, 2]),
    ("a string parameter keeps digits", "city", "007", "007"),
]


@pytest.mark.parametrize("param,raw,value", [r[1:] for r in TYPED], ids=[r[0] for r in TYPED])
def test_values_typed_by_the_schema(param, raw, value):
    name = "get_weather" if param == "city" else "calc"
    text = block(name, (param, raw))
    got = non_streaming(CharTokenizer(), text, tool=TOOL)
    assert [(n, json.loads(a)) for n, a in got.calls] == [(name, {param: value})]
    assert got.calls == streaming(CharTokenizer(), char_chunks(text, range(len(text))),
                                  tool=TOOL).calls


# --- with our reasoning parsers -----------------------------------------------------------

OPEN = "<|im_start|>assistant\n<think>\n"


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("reasoning", ["nano_v3", "super_v3"])
@pytest.mark.parametrize("text,thought,content,calls", [
    # a call straight from the thought, with no </think>, and without its last </parameter>
    ("I should check.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nCairo\n"
     "</function>\n</tool_call>", "I should check.", "", [call("get_weather", city="Cairo")]),
    ("Thought.</think>Checking.\n" + CAIRO, "Thought.", "Checking.\n",
     [call("get_weather", city="Cairo")]),
    ("Cut off before a call", "Cut off before a call", "", []),
])
def test_with_our_reasoning_parsers(tag_tokenizer, tags, reasoning, text, thought, content, calls):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    prompt = tok.encode(OPEN, add_special_tokens=False)
    check_all_ways(tok, text, Result(thought, content, calls), prompt, reasoning=reasoning)


# --- forced calls -------------------------------------------------------------------------

NAMED = {"type": "function", "function": {"name": "get_weather"}}
CHOICES = pytest.mark.parametrize("tool_choice", ["required", NAMED], ids=["required", "named"])


@CHOICES
def test_forced_calls_use_vllms_json_call_list_grammar(tool_choice):
    """The grammar vLLM sets for its own forced calls, a JSON constraint the engine compiles
    with the server's structured-output settings (no structural tag, which ignores them)."""
    req = make(CharTokenizer(), TOOL).adjust_request(request(tool_choice=tool_choice))
    outputs = req.structured_outputs
    assert outputs.structural_tag is None and outputs.json is not None
    if tool_choice == "required":
        assert outputs.json == get_json_schema_from_tools("required", request().tools, None)
    else:
        assert outputs.json["maxItems"] == 1


def test_auto_adds_no_grammar():
    req = make(CharTokenizer(), TOOL).adjust_request(request())
    assert req.structured_outputs is None


@CHOICES
@pytest.mark.parametrize("text,calls", [
    ('[{"name":"get_weather","parameters":{"city":"Cairo"}}]', [call("get_weather", city="Cairo")]),
    ('\n [ {"name" : "get_weather",\r\n "parameters" : {"city" : "Ca]iro"}} ]\n',
     [call("get_weather", city="Ca]iro")]),
    # raw control characters that xgrammar lets into JSON strings: sent as escaped JSON
    ('[{"name":"get_weather","parameters":{"city":",k\tg\n"}}]',
     [call("get_weather", city=",k\tg\n")]),
    # a thought that ended on the model's own opener leaves it before the list
    ('<tool_call>\n[{"name": "get_weather", "parameters": {"city": "Cairo"}}]</tool_call>',
     [call("get_weather", city="Cairo")]),
    # not a call list (no grammar on this request after all): read as XML
    (CAIRO, [call("get_weather", city="Cairo")]),
])
def test_forced_call_outputs(tool_choice, text, calls):
    check_all_ways(CharTokenizer(), text, Result("", "", calls), tool_choice=tool_choice)


@CHOICES
@pytest.mark.parametrize("text", [
    '[{"name": "get_weather", "parameters": {"city": "Cairo"}}', "[", '[{"name": 1}]',
    '[{"name": "get_weather", "parameters": {"x": NaN}}]', "plain text",
])
def test_a_forced_call_that_is_not_one_is_content(tool_choice, text):
    check_all_ways(CharTokenizer(), text, Result("", text, []), tool_choice=tool_choice)


# --- properties ---------------------------------------------------------------------------

NAMES = ["get_weather", "run_shell", "calc", "f", "nope"]
PARAMS = ["city", "days", "unit", "cmd", "x", "flags", "opt", "a", "note"]
noise = st.lists(st.sampled_from(
    list("ab <>/=\n\t'\"[]{}") + ["<tool_call>", "</tool_call>", "<function=", "</function>",
                                  "<parameter=", "</parameter>", "<parameter=city>", "True",
                                  "None", "3", "é", "</think>"]), max_size=10).map("".join)


@st.composite
def xml_block(draw):
    name = draw(st.sampled_from(NAMES))
    params = draw(st.lists(st.tuples(st.sampled_from(PARAMS), noise), max_size=3))
    text = "<function=" + name + ">" + draw(st.sampled_from(["\n", "", " \n"]))
    for param, value in params:
        text += f"<parameter={param}>\n{value}"
        text += draw(st.sampled_from(["\n</parameter>\n", "\n", "</parameter>", ""]))
    text += draw(st.sampled_from(["</function>", "</function>\n", "", "\n"]))
    if draw(st.booleans()):
        text = "<tool_call>" + draw(st.sampled_from(["\n", "", "prose "])) + text
        text += draw(st.sampled_from(["</tool_call>", "", "\n</tool_call>\n"]))
    return text


outputs = st.lists(noise | xml_block(), max_size=4).map("".join)
cuts = st.lists(st.integers(0, 300), max_size=40)


def settings_(n=150):
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def strict_object(arguments: str) -> dict:
    value = json.loads(arguments, parse_constant=lambda c: pytest.fail(f"{c} in {arguments}"))
    assert isinstance(value, dict)
    return value


@settings_()
@given(text=outputs, cut=cuts, choice=st.sampled_from(["auto", "required"]))
def test_streaming_equals_whole_for_every_chunking(text, cut, choice):
    """Never raises; streamed (calls sent whole, so arguments are never a partial JSON) equals
    whole; every call's arguments are a strict JSON object; text without a call is returned
    unchanged."""
    tok = CharTokenizer()
    # a forced choice: vLLM's own rule for whitespace-only content (drive.blank_as_empty)
    same = (lambda result: result) if choice == "auto" else blank_as_empty
    whole = same(non_streaming(tok, text, tool=TOOL, tool_choice=choice))
    for _, arguments in whole.calls:
        strict_object(arguments)
    if not whole.calls:
        assert whole.content == same(Result("", text, [])).content
    streamed = streaming(tok, char_chunks(text, cut), tool=TOOL, tool_choice=choice)
    assert same(streamed.normalized()) == whole.normalized()


@settings_(60)
@given(text=outputs, cut=cuts)
def test_streaming_equals_whole_in_tokens(tag_tokenizer, text, cut):
    whole = non_streaming(tag_tokenizer, text, tool=TOOL).normalized()
    assert streaming(tag_tokenizer, token_chunks(tag_tokenizer, text, cut),
                     tool=TOOL).normalized() == whole


# Values with markup in them; every closing tag in a value is followed by a letter.
value_text = st.lists(st.sampled_from(
    ["a", " ", "\n", "<", ">", "=", "<parameter=x>", "<parameter=cm>", "</parameter>x",
     "</function>x", "</tool_call>x", "<tool_call>", "<function=g>", "é", "'", "{"]),
    max_size=12).map("".join)


@settings_()
@given(values=st.lists(value_text, min_size=1, max_size=3), cut=cuts)
def test_values_keep_markup_byte_for_byte(values, cut):
    text = "".join(block("run_shell", ("cmd", v)) for v in values)
    expected = [call("run_shell", cmd=v) for v in values]
    assert non_streaming(CharTokenizer(), text, tool=TOOL).calls == expected
    assert streaming(CharTokenizer(), char_chunks(text, cut), tool=TOOL).calls == expected


@settings_()
@given(data=st.data(), cut=cuts)
def test_any_closing_tag_may_be_missing(data, cut):
    """Calls with plain values read the same with any of `</parameter>`, `</function>` and
    `</tool_call>` left out (the last block's may all be missing; an opener inside a value is
    part of the value, so a block followed by another keeps one of its closing tags)."""
    words = st.text("abc xyz", min_size=1, max_size=6).filter(lambda s: s.strip() == s)
    calls, blocks = [], []
    count = data.draw(st.integers(1, 3))
    for k in range(count):
        params = data.draw(st.dictionaries(st.sampled_from(["city", "unit"]), words, max_size=2))
        body = "".join(f"<parameter={p}>\n{v}\n" + data.draw(st.sampled_from(["</parameter>\n",
                                                                              ""]))
                       for p, v in params.items())
        ends = ["</function>\n</tool_call>", "</function>\n", "</tool_call>"]
        end = data.draw(st.sampled_from(ends + ([""] if k == count - 1 else [])))
        blocks.append("<tool_call>\n<function=get_weather>\n" + body + end)
        calls.append(call("get_weather", **params))
    text = "\n".join(blocks)
    assert non_streaming(CharTokenizer(), text, tool=TOOL).calls == calls
    assert streaming(CharTokenizer(), char_chunks(text, cut), tool=TOOL).calls == calls


# --- packaging ----------------------------------------------------------------------------

def test_drop_in_file():
    """The file loads the way model cards use parser files, next to the plugin's lazy name."""
    script = (
        "import sys\n"
        "from vllm.tool_parsers import ToolParserManager\n"
        "ToolParserManager.register_lazy_module('nemotron3_xml', "
        "'vllm_nemotron.parsers.nemotron3_xml_tool_parser', 'Nemotron3XmlToolParser')\n"
        "ToolParserManager.import_tool_parser(sys.argv[1])\n"
        "cls = ToolParserManager.get_tool_parser('nemotron3_xml')\n"
        "print(cls.__module__, cls.__name__)\n"
        "text = '<function=f>\\n<parameter=a>\\n1\\n</function>'\n"
        "info = cls(None).extract_tool_calls(text, None)\n"
        "print('call', info.tool_calls[0].function.name, info.tool_calls[0].function.arguments)\n")
    path = Path(__file__).resolve().parents[2] / "parsers" / "nemotron3_xml_tool_parser.py"
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                            text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "nemotron3_xml_tool_parser Nemotron3XmlToolParser" in result.stdout
    assert 'call f {"a": "1"}' in result.stdout


def test_registered_by_the_plugin():
    from vllm.tool_parsers import ToolParserManager

    from vllm_nemotron import TOOL_PARSERS, register

    register()
    assert TOOL_PARSERS[TOOL].endswith(":Nemotron3XmlToolParser")
    assert ToolParserManager.get_tool_parser(TOOL).__name__ == "Nemotron3XmlToolParser"
