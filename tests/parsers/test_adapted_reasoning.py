"""vLLM's and NVIDIA's reasoning-parser test cases, adapted to `nano_v3`, `super_v3` and
`llama_nemotron_thinking`.

Sources (read, not copied: each row names its source test and case):
- vllm-project/vllm tests/reasoning/test_qwen3_reasoning_parser.py (commit 049d8df)
- vllm-project/vllm tests/reasoning/test_deepseekr1_reasoning_parser.py (commit e372329)
- vllm-project/vllm tests/reasoning/test_nemotron_v3_reasoning_parser.py (commit 028e77a; rows
  marked "later revision" come from a newer revision of the same file, with split-marker and
  separator tests)
- vllm-project/vllm tests/reasoning/utils.py: vLLM streams one delta per token (or the test's
  own deltas).
- NVIDIA/Megatron-LM tests/unit_tests/tokenizers/test_text_parsers.py (commit 0d72b5c):
  NEMOTRON_V3_CASES, NVIDIA's statement of what its Super/Ultra files (`super_v3` /
  `ultra_v3_reasoning_parser.py` on the model cards) return on vLLM, and its implicit-end test.
- NVIDIA's own drop-in files, read on the model cards' pages: `nano_v3_reasoning_parser.py`
  (nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16) and `super_v3_reasoning_parser.py`
  (nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16, revision "Update super_v3_reasoning_parser.py
  (#2)", 2026-03-10; later public copies also treat a whitespace-only answer as empty).

Each row runs non-streaming and streamed (one character at a time, every 4 characters, as
tokens, every 3 tokens, as the source's own deltas where it had some, as one delta), with the
tags as one vocabulary token and as character pieces: all must give the row's result. The
prompt is what our chat templates render: nano_v3 opens `<think>` in the prompt (`OPEN`), or
closes it there with thinking off (`CLOSED`); Llama-Nemotron says "detailed thinking on".

Where we deliberately differ from the vLLM expectation, the row says why, by these keys:
- WS: trailing reasoning whitespace is dropped (in-tree nemotron_v3 does too; qwen3 keeps it).
- KEEP: content is returned verbatim: no separator newlines stripped after `</think>`, no
  repeated `</think>` dropped (vLLM's later nemotron_v3 strips both); nothing is lost.
- BOTH: with force_nonempty_content (or thinking off) an empty answer becomes the thought and
  `reasoning` keeps it (028e77a and NVIDIA's files return reasoning None; the later vLLM
  revision agrees with us). Streaming cannot take back reasoning deltas already sent, so
  keeping it is the only way both paths agree (NVIDIA's files do not move it when streaming).
- LEAD: only a `<think>` at the very start of the output is a re-emitted opener; after other
  text (even a newline) it is text of the reasoning, as documented in the parser. (NVIDIA's
  files, like deepseek_r1, drop the text before it when not streaming.)
- PROMPT: the prompt closed thinking (`<think></think>`), so a later `</think>` is text of the
  answer (NVIDIA's files split there when not streaming, and not when streaming).
- LLAMA: Llama-Nemotron writes `<think>` itself; output that does not open with it is content.

Skipped source cases (vLLM internals with no counterpart here):
- qwen3: the parametrization over "qwen3"/"qwen3_engine" and three hub tokenizers (we have one
  parser and a local tokenizer; tags as one token and as pieces stand in for the tokenizers).
- deepseek_r1 "*_streaming" rows whose expectation differs from the non-streaming one only
  because vLLM's streaming cannot see the prompt ("shortest" None vs "", "new_line",
  "empty_streaming"): ours must equal non-streaming, so each input is one row here.
- nemotron_v3 (later revision) test_nemotron_v3_streaming_drops_replayed_end_marker_from_content
  calls extract_reasoning_streaming with a hand-built previous/current text; its input is a row
  here (KEEP), the hand-built call is not.
- nemotron_v3 _make_reasoning_parser / DelegatingParser wiring: drive.py composes the parsers
  through vLLM's ParserManager instead.
"""

from __future__ import annotations

import pytest

from tests.parsers.drive import (
    CharTokenizer,
    Result,
    char_chunks,
    make,
    non_streaming,
    streaming,
    token_chunks,
)

NANO, SUPER, LLAMA = "nano_v3", "super_v3", "llama_nemotron_thinking"
V3 = (NANO, SUPER)  # rows that hold for both Nemotron-3 names
OPEN = "<|im_start|>assistant\n<think>\n"
CLOSED = "<|im_start|>assistant\n<think></think>"
ON = "detailed thinking on"
OFF = {"enable_thinking": False}
THINKING = {"enable_thinking": True}
FORCE = {"force_nonempty_content": True}

R, REST = "This is a reasoning section", "This is the rest"
QWEN_CALL = ("<tool_call>\n<function=bash>\n<parameter=command>\ncat /etc/hosts\n</parameter>\n"
             "</function>\n</tool_call>")
OUR_CALL = '<TOOLCALL>[{"name": "bash", "arguments": {"command": "cat /etc/hosts"}}]</TOOLCALL>'
BASH = [("bash", '{"command": "cat /etc/hosts"}')]
READ = "I need to read the file.\n\n"
MEGATRON_CALL = ("<tool_call><function=bash><parameter=command>echo hi</parameter></function>"
                 "</tool_call>")


def row(names, prompt, kw, text, reasoning, content, calls=(), *, id, bug=None):
    """One case per parser name. `text` is the output, or a tuple of the source's own deltas."""
    marks = [pytest.mark.xfail(strict=True, reason=f"bug: {bug}")] if bug else []
    if isinstance(names, str):
        names = (names,)
    return [pytest.param(name, prompt, kw, text, reasoning, content, list(calls),
                         id=id if len(names) == 1 else f"{id}-{name}", marks=marks)
            for name in names]


ROWS = [
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning "without_start_token"
    # (and ..._stream); also test_nemotron_v3_reasoning_parser.py::test_nemotron_v3_reasoning
    # "without_start_token", test_deepseekr1_reasoning_parser.py::test_reasoning
    # "simple_reasoning"
    *row(V3, OPEN, {}, f"{R}</think>{REST}", R, REST, id="qwen3-without_start_token"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning
    # "without_start_token_complete_reasoning"; deepseekr1 ::test_reasoning "complete_reasoning"
    *row(V3, OPEN, {}, f"{R}</think>", R, "", id="qwen3-without_start_token_complete"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning "with_think";
    # test_nemotron_v3_reasoning_parser.py::test_nemotron_v3_reasoning "with_start_token";
    # test_deepseekr1_reasoning_parser.py::test_reasoning "reasoning_with_think"
    *row(V3, OPEN, {}, f"<think>{R}</think>{REST}", R, REST, id="qwen3-with_think"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning "without_think"
    *row(V3, OPEN, {}, REST, REST, "", id="qwen3-without_think"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning "complete_reasoning";
    # deepseekr1 ::test_reasoning "complete_reasoning_with_think"
    *row(V3, OPEN, {}, f"<think>{R}</think>", R, "", id="qwen3-complete_reasoning"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning "multiline_reasoning"
    *row(V3, OPEN, {}, f"<think>This is a reasoning\nsection</think>{REST}\nThat",
        "This is a reasoning\nsection", f"{REST}\nThat", id="qwen3-multiline_reasoning"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning "only_open_tag";
    # deepseekr1 ::test_reasoning "think_no_end"
    *row(V3, OPEN, {}, f"<think>{R}", R, "", id="qwen3-only_open_tag"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning
    # "truncated_no_start_token"
    *row(V3, OPEN, {}, R, R, "", id="qwen3-truncated_no_start_token"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning
    # "tool_call_no_think_end" (WS: vLLM's qwen3 keeps "\n\n" on the reasoning)
    *row(V3, OPEN, {}, READ + QWEN_CALL, READ.strip(), QWEN_CALL,
        id="qwen3-tool_call_no_think_end"),
    # ... the same with our family's opener, which our tool parser then reads (WS)
    *row(V3, OPEN, {}, READ + OUR_CALL, READ.strip(), "", BASH,
        id="qwen3-tool_call_no_think_end-TOOLCALL"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning
    # "tool_call_with_think_no_end" (WS)
    *row(V3, OPEN, {}, "<think>" + READ + QWEN_CALL, READ.strip(), QWEN_CALL,
        id="qwen3-tool_call_with_think_no_end"),
    *row(V3, OPEN, {}, "<think>" + READ + OUR_CALL, READ.strip(), "", BASH,
        id="qwen3-tool_call_with_think_no_end-TOOLCALL"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::
    # test_reasoning_streaming_multi_token_deltas "start_token_grouped_with_text"
    *row(V3, OPEN, {}, (f"<think>{R}", "</think>", REST), R, REST,
        id="qwen3-start_token_grouped_with_text"),
    # ... "end_token_grouped_with_content"
    *row(V3, OPEN, {}, ("reasoning section", f"</think>{REST}"), "reasoning section", REST,
        id="qwen3-end_token_grouped_with_content"),
    # ... "start_and_end_in_one_delta_no_content"
    *row(V3, OPEN, {}, ("<think>reasoning</think>",), "reasoning", "",
        id="qwen3-start_and_end_in_one_delta"),
    # ... "no_start_end_grouped_with_content"
    *row(V3, OPEN, {}, ("reasoning section", "</think>content"), "reasoning section",
        "content", id="qwen3-no_start_end_grouped_with_content"),
    # ... "tool_call_implicit_reasoning_end" (WS)
    *row(V3, OPEN, {}, (READ, "<tool_call>\n<function=bash>"), READ.strip(),
        "<tool_call>\n<function=bash>", id="qwen3-tool_call_implicit_reasoning_end"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning_thinking_disabled
    # "thinking_disabled_plain_content"; also test_nemotron_v3_reasoning_parser.py::
    # test_nemotron_v3_without_thinking_moves_into_content
    *row(V3, CLOSED, OFF, "This is plain content", "", "This is plain content",
        id="qwen3-thinking_disabled_plain_content"),
    # ... "thinking_disabled_no_think_tokens"
    *row(V3, CLOSED, OFF, "Some output without think tokens", "",
        "Some output without think tokens", id="qwen3-thinking_disabled_no_think_tokens"),
    # ... "thinking_disabled_with_tool_call" (a tool call is not an end of reasoning here)
    *row(V3, CLOSED, OFF, READ + QWEN_CALL, "", READ + QWEN_CALL,
        id="qwen3-thinking_disabled_with_tool_call"),
    *row(V3, CLOSED, OFF, READ + OUR_CALL, "", READ, BASH,
        id="qwen3-thinking_disabled_with_tool_call-TOOLCALL"),
    # vLLM tests/reasoning/test_deepseekr1_reasoning_parser.py::test_reasoning
    # "no_content_token" / "no_reasoning_token_streaming"
    *row(V3, OPEN, {}, "This is content", "This is content", "", id="r1-no_content_token"),
    # ... "multiple_lines"
    *row(V3, OPEN, {}, f"This\nThat</think>{REST}\nThat", "This\nThat", f"{REST}\nThat",
        id="r1-multiple_lines"),
    # ... "shortest" / "shortest_streaming", and "shortest_with_think" (/"_streaming"), whose
    # input is the same (vLLM: reasoning "" or None by path; ours: "" both ways)
    *row(V3, OPEN, {}, f"</think>{REST}", "", REST, id="r1-shortest"),
    # ... "multiple_lines_with_think"
    *row(V3, OPEN, {}, f"<think>This\nThat</think>{REST}\nThat", "This\nThat", f"{REST}\nThat",
        id="r1-multiple_lines_with_think"),
    # ... "empty" / "empty_streaming"
    *row(V3, OPEN, {}, "", "", "", id="r1-empty"),
    # ... "new_line" / "new_line_streaming": vLLM gives "This is a reasoning section" (or,
    # streamed, "\nThis is a reasoning section"); LEAD: the `<think>` after a newline stays
    *row(V3, OPEN, {}, f"\n<think>{R}</think>\n{REST}", f"\n<think>{R}", f"\n{REST}",
        id="r1-new_line"),
    # vLLM tests/reasoning/test_nemotron_v3_reasoning_parser.py::
    # test_nemotron_v3_force_nonempty_content_moves_into_content (BOTH)
    *row(V3, OPEN, FORCE, "<think>This is plain content", "This is plain content",
        "This is plain content", id="v3-force_nonempty_content_moves_into_content"),
    # ... test_nemotron_v3_force_nonempty_keeps_real_content
    *row(V3, OPEN, FORCE, "<think>reasoning here</think>real answer", "reasoning here",
        "real answer", id="v3-force_nonempty_keeps_real_content"),
    # ... test_nemotron_v3_with_thinking_keeps_truncated_reasoning (the later revision replays
    # it as content too; we do that only with force_nonempty_content or thinking off)
    *row(V3, OPEN, THINKING, "This is truncated reasoning", "This is truncated reasoning", "",
        id="v3-with_thinking_keeps_truncated_reasoning"),
    # ... test_nemotron_v3_streaming_promotes_reasoning_to_content
    *row(V3, OPEN, FORCE, "<think>4", "4", "4", id="v3-streaming_promotes_reasoning"),
    # ... test_nemotron_v3_streaming_no_promotion_with_real_content
    *row(V3, OPEN, FORCE, "<think>reason</think>real answer", "reason", "real answer",
        id="v3-streaming_no_promotion_with_real_content"),
    # ... test_nemotron_v3_streaming_no_promotion_without_opt_in
    *row(V3, OPEN, {}, "<think>4", "4", "", id="v3-streaming_no_promotion_without_opt_in"),
    # ... (later revision) test_nemotron_v3_streaming_handles_split_end_marker
    *row(V3, OPEN, {}, ("This is reasoning</thi", "nk>This is content"), "This is reasoning",
        "This is content", id="v3-split_end_marker"),
    # ... (later revision) test_nemotron_v3_strips_post_think_separator_newlines (KEEP)
    *row(V3, OPEN, {}, ("This is reasoning", "</think>\n\nThis is content"),
        "This is reasoning", "\n\nThis is content", id="v3-post_think_separator_newlines"),
    # ... (later revision) test_nemotron_v3_streaming_strips_split_post_think_newlines (KEEP)
    *row(V3, OPEN, {}, ("This is reasoning</think>", "\n", "\nThis is content"),
        "This is reasoning", "\n\nThis is content", id="v3-split_post_think_newlines"),
    # ... (later revision) test_nemotron_v3_streaming_drops_replayed_end_marker_from_content,
    # as a whole output (KEEP: the repeated `</think>` stays in the content)
    *row(V3, OPEN, {}, "This is reasoning</think></think>\n\nThis is content",
        "This is reasoning", "</think>\n\nThis is content", id="v3-replayed_end_marker"),
    # ... (later revision) test_nemotron_v3_streaming_preserves_false_end_marker_prefix
    *row(V3, OPEN, {}, ("This is reasoning</thi", "s is not an end marker"),
        "This is reasoning</this is not an end marker", "", id="v3-false_end_marker_prefix"),
    # NVIDIA/Megatron-LM tests/unit_tests/tokenizers/test_text_parsers.py NEMOTRON_V3_CASES
    # (NVIDIA's Super/Ultra files on vLLM; thinking off renders the CLOSED prompt)
    *row(V3, OPEN, {}, "<think>hello", "hello", "", id="nv-unterminated"),
    *row(V3, OPEN, {}, "<think>hello</think>world", "hello", "world", id="nv-closed_answer"),
    *row(V3, OPEN, {}, "<think>hello</think>", "hello", "", id="nv-closed_nothing_after"),
    *row(V3, OPEN, {}, "just an answer", "just an answer", "", id="nv-no_think_tag"),
    # ... enable_thinking false surfaces the would-be-empty answer (BOTH)
    *row(V3, CLOSED, OFF, "<think>hello", "hello", "hello", id="nv-off_unterminated"),
    *row(V3, CLOSED, OFF, "<think>hello</think>", "hello", "hello", id="nv-off_nothing_after"),
    # ... force_nonempty_content does the same (BOTH)
    *row(V3, OPEN, FORCE, "<think>hello</think>", "hello", "hello", id="nv-force_nothing_after"),
    *row(V3, OPEN, FORCE, "<think>hello", "hello", "hello", id="nv-force_unterminated"),
    # ... the override fires only when there would be no answer
    *row(V3, CLOSED, OFF, "<think>hello</think>world", "hello", "world", id="nv-off_answer"),
    # ... "text preceding <think> is discarded" (LEAD: with thinking off, output that does not
    # open a think block is the answer, verbatim)
    *row(V3, CLOSED, OFF, "prefix<think>hello</think>", "", "prefix<think>hello</think>",
         id="nv-off_text_before_think"),
    # ... enable_thinking true must not trigger the override
    *row(V3, OPEN, THINKING, "<think>hello</think>", "hello", "", id="nv-thinking_on"),
    # ... test_tool_call_marker_implicitly_ends_reasoning_for_combined_parser (WS; the call is
    # XML for qwen3_coder: test_reasoning.py::test_qwen3_coder_calls parses such calls)
    *row(V3, OPEN, {}, "I should inspect this first.\n" + MEGATRON_CALL,
         "I should inspect this first.", MEGATRON_CALL, id="nv-tool_call_implicit_end"),
    # NVIDIA's nano_v3_reasoning_parser.py: thinking off, the plain answer is content (its
    # swap; ours because the prompt closed thinking)
    *row(V3, CLOSED, OFF, "Paris.", "", "Paris.", id="nv-nano-off_plain_answer"),
    # ... and a `</think>` after a prompt that closed thinking (PROMPT)
    *row(V3, CLOSED, OFF, "Hmm.</think>Paris.", "", "Hmm.</think>Paris.",
         id="nv-nano-off_stray_end"),
    # NVIDIA's super_v3_reasoning_parser.py docstring, case 2: the thought ran past max_tokens
    # with force_nonempty_content (BOTH)
    *row(V3, OPEN, FORCE, "A long thought cut off by max_tokens",
         "A long thought cut off by max_tokens", "A long thought cut off by max_tokens",
         id="nv-super-force_cut_off"),
    # ... later copies: a whitespace-only answer counts as empty too (BOTH; WS)
    *row(V3, OPEN, FORCE, "Thought. \n</think>\n\n", "Thought.", "Thought.",
         id="nv-super-force_whitespace_answer"),
    # Llama-Nemotron ("detailed thinking on"): the deepseek_r1 / qwen3 rows whose output opens
    # `<think>` map directly; without the opener the output is content (LLAMA).
    # vLLM tests/reasoning/test_deepseekr1_reasoning_parser.py::test_reasoning
    # "reasoning_with_think"
    *row(LLAMA, ON, {}, f"<think>{R}</think>{REST}", R, REST, id="llama-r1-reasoning_with_think"),
    # ... "complete_reasoning_with_think"
    *row(LLAMA, ON, {}, f"<think>{R}</think>", R, "", id="llama-r1-complete_reasoning_with_think"),
    # ... "multiple_lines_with_think"
    *row(LLAMA, ON, {}, f"<think>This\nThat</think>{REST}\nThat", "This\nThat", f"{REST}\nThat",
        id="llama-r1-multiple_lines_with_think"),
    # ... "think_no_end"
    *row(LLAMA, ON, {}, f"<think>{R}", R, "", id="llama-r1-think_no_end"),
    # ... "simple_reasoning" (LLAMA: no opener, so all of it is content, verbatim)
    *row(LLAMA, ON, {}, f"{R}</think>{REST}", "", f"{R}</think>{REST}",
        id="llama-r1-simple_reasoning"),
    # ... "no_content_token" (LLAMA)
    *row(LLAMA, ON, {}, "This is content", "", "This is content", id="llama-r1-no_content_token"),
    # ... "empty"
    *row(LLAMA, ON, {}, "", "", "", id="llama-r1-empty"),
    # ... "new_line" (LLAMA, LEAD)
    *row(LLAMA, ON, {}, f"\n<think>{R}</think>\n{REST}", "", f"\n<think>{R}</think>\n{REST}",
        id="llama-r1-new_line"),
    # vLLM tests/reasoning/test_nemotron_v3_reasoning_parser.py::test_nemotron_v3_reasoning
    # "without_start_token", with a prompt that leaves `<think>` open
    *row(LLAMA, "<think>", {}, f"{R}</think>{REST}", R, REST, id="llama-v3-without_start_token"),
    # vLLM tests/reasoning/test_qwen3_reasoning_parser.py::test_reasoning
    # "tool_call_with_think_no_end", with our opener (WS)
    *row(LLAMA, ON, {}, "<think>" + READ + OUR_CALL, READ.strip(), "", BASH,
        id="llama-qwen3-tool_call_with_think_no_end"),
    # ... and Qwen's `<tool_call>`, which is not a Llama-Nemotron opener: all reasoning (WS)
    *row(LLAMA, ON, {}, "<think>" + READ + QWEN_CALL, READ + QWEN_CALL, "",
        id="llama-qwen3-tool_call_qwen_tag"),
]


def stream_ways(tok, text: str, deltas=None, token_steps=(1, 3)):
    """The chunkings a row is streamed in: characters, every 4, one delta, the source's own
    deltas, and (for a tokenizer with the tags as tokens) every `token_steps` tokens (vLLM's
    stream_interval)."""
    def encode(s):
        return tok.encode(s, add_special_tokens=False)

    ways = [char_chunks(text, range(len(text))), char_chunks(text, range(0, len(text), 4)),
            [(text, encode(text))]]
    if deltas:
        ways.append([(d, encode(d)) for d in deltas])
    if not isinstance(tok, CharTokenizer):
        n = len(encode(text))
        ways += [token_chunks(tok, text, range(0, n, step)) for step in token_steps]
    return ways


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("name,prompt,kw,text,reasoning,content,calls", ROWS)
def test_adapted(tag_tokenizer, tags, name, prompt, kw, text, reasoning, content, calls):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    deltas = text if isinstance(text, tuple) else None
    text = "".join(deltas) if deltas else text
    prompt_ids = tok.encode(prompt, add_special_tokens=False)
    args = dict(tool="llama_nemotron_json", reasoning=name, **kw)
    expected = Result(reasoning, content, calls).normalized()
    assert non_streaming(tok, text, prompt_ids, **args).normalized() == expected
    for chunks in stream_ways(tok, text, deltas):
        got = streaming(tok, chunks, prompt_ids, **args).normalized()
        assert got == expected, [t for t, _ in chunks]


# vLLM tests/reasoning/test_deepseekr1_reasoning_parser.py::test_reasoning also checks, per
# case, `is_reasoning_end` and `extract_content_ids` on the output's token ids. Our
# `is_reasoning_end` reads a prompt (the last think tag decides) and remembers it for the
# output that follows, so each view gets its own parser; content ids are those after
# `</think>`. (output, is_reasoning_end, content)
TOKEN_VIEWS = [
    (f"{R}</think>{REST}", True, REST),  # "simple_reasoning"
    (f"{R}</think>", True, ""),  # "complete_reasoning"
    ("This is content", False, ""),  # "no_content_token"
    (f"This\nThat</think>{REST}\nThat", True, f"{REST}\nThat"),  # "multiple_lines"
    (f"</think>{REST}", True, REST),  # "shortest"
    (f"<think>{R}</think>{REST}", True, REST),  # "reasoning_with_think"
    (f"<think>{R}</think>", True, ""),  # "complete_reasoning_with_think"
    (f"<think>This\nThat</think>{REST}\nThat", True, f"{REST}\nThat"),  # "..._with_think"
    (f"<think>{R}", False, ""),  # "think_no_end"
    ("", False, ""),  # "empty"
    (f"\n<think>{R}</think>\n{REST}", True, f"\n{REST}"),  # "new_line"
]


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("text,ended,content", TOKEN_VIEWS)
@pytest.mark.parametrize("name", V3)
def test_deepseek_r1_token_views(tag_tokenizer, tags, name, text, ended, content):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    ids = tok.encode(text, add_special_tokens=False)
    assert make(tok, reasoning=name).reasoning_parser.is_reasoning_end(ids) is ended
    parser = make(tok, reasoning=name).reasoning_parser
    assert parser.extract_content_ids(ids) == tok.encode(content, add_special_tokens=False)


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("name", V3)
def test_end_detection_handles_token_pieces(tag_tokenizer, tags, name):
    """vLLM tests/reasoning/test_nemotron_v3_reasoning_parser.py (later revision)::
    test_nemotron_v3_streaming_end_detection_handles_token_pieces: `</think>` sampled as the
    pieces "</", "think", ">" ends reasoning on the last piece, also after vLLM rechecks a
    shorter window. We differ in one respect: vLLM's check answers "did this delta end
    reasoning" (False for a later delta); ours answers "has reasoning ended" (True), which
    is what the structured-output gate needs from then on."""
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    prompt = tok.encode(OPEN, add_special_tokens=False)
    pieces = [tok.encode(p, add_special_tokens=False) for p in ("</", "think", ">", "x")]
    gate = make(tok, reasoning=name).reasoning_parser
    seen = list(prompt)
    answers = []
    for piece in pieces:
        seen += piece
        answers.append(gate.is_reasoning_end_streaming(list(seen), piece))
    assert answers == [False, False, True, True]
    before_gt = prompt + pieces[0] + pieces[1]
    assert not gate.is_reasoning_end_streaming(before_gt, pieces[1])  # rewound window
    assert gate.is_reasoning_end_streaming(before_gt + pieces[2], pieces[2])
