"""`nano_v3` and `llama_nemotron_thinking`: corpus, token-id views, and tags as one token
or as ordinary pieces of text (the CharTokenizer cuts every tag into characters)."""

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

OPEN = "<|im_start|>assistant\n<think>\n"
CLOSED = "<|im_start|>assistant\n<think></think>"
CALL = '<TOOLCALL>[{"name": "f", "arguments": {"a": 1}}]</TOOLCALL>'

QWEN_CALL = '<tool_call>\n<function=f>\n<parameter=a>\n1\n</parameter>\n</function>\n</tool_call>'
OFF = {"enable_thinking": False}
LLAMA, ON = "llama_nemotron_thinking", "detailed thinking on"
FORCE = {"force_nonempty_content": True}

# (reasoning parser, prompt, template kwargs, output, reasoning, content, calls)
CORPUS = [
    ("nano_v3", OPEN, {}, "Let me think.</think>Paris.", "Let me think.", "Paris.", []),
    ("nano_v3", OPEN, {}, "<think>Again.</think>\nParis.", "Again.", "\nParis.", []),
    ("nano_v3", OPEN, {}, "cut off inside reasoning", "cut off inside reasoning", "", []),
    ("nano_v3", OPEN, {}, "ends with half a tag </thi", "ends with half a tag </thi", "", []),
    ("nano_v3", OPEN, {}, "</think>Only content.", "", "Only content.", []),
    ("nano_v3", OPEN, {}, "a < b </think > c", "a < b </think > c", "", []),
    ("nano_v3", OPEN, {}, "I'll call f.</think>" + CALL, "I'll call f.", "", [("f", '{"a": 1}')]),
    ("nano_v3", OPEN, {}, "r</think>x </think> <think>y", "r", "x </think> <think>y", []),
    # trailing reasoning whitespace is dropped (in-tree nemotron_v3 does the same)
    ("nano_v3", OPEN, {}, "Step one. \n\n</think>\nParis.", "Step one.", "\nParis.", []),
    # a tool call straight from the thought ends reasoning (implicit end), both families' tags
    ("nano_v3", OPEN, {}, "I'll call f.\n" + CALL, "I'll call f.", "", [("f", '{"a": 1}')]),
    ("nano_v3", OPEN, {}, "Use the tool " + QWEN_CALL, "Use the tool", QWEN_CALL, []),
    ("nano_v3", OPEN, {}, CALL, "", "", [("f", '{"a": 1}')]),
    ("nano_v3", OPEN, {}, "a <TOOLCAL b", "a <TOOLCAL b", "", []),
    # enable_thinking false: an empty think block is dropped; a thought is reasoning
    ("nano_v3", CLOSED, OFF, "<think></think>Paris is the capital.", "", "Paris is the capital.",
     []),
    ("nano_v3", CLOSED, OFF, "<think>\n\n</think>\nParis.", "", "\nParis.", []),
    ("nano_v3", CLOSED, OFF, "<think>Hmm.</think>Paris.", "Hmm.", "Paris.", []),
    ("nano_v3", CLOSED, OFF, "All <think>content</think>.", "", "All <think>content</think>.", []),
    # a template that ignores enable_thinking (Nano-9B-v2's own) opened <think>: the prompt wins
    ("nano_v3", OPEN, OFF, "Hmm.</think>Paris.", "Hmm.", "Paris.", []),
    ("nano_v3", CLOSED, OFF, "<think></think>" + CALL, "", "", [("f", '{"a": 1}')]),
    ("nano_v3", CLOSED, OFF, "<thi", "", "<thi", []),
    # ... and a thought with no answer is also the answer (force_nonempty_content)
    ("nano_v3", CLOSED, OFF, "<think>Only a thought.</think>\n", "Only a thought.",
     "Only a thought.", []),
    ("nano_v3", OPEN, FORCE, "Only a thought.</think>", "Only a thought.", "Only a thought.", []),
    ("nano_v3", OPEN, FORCE, "Only a thought. \n</think> \n\n", "Only a thought.",
     "Only a thought.", []),
    ("nano_v3", OPEN, FORCE, "cut off", "cut off", "cut off", []),
    ("nano_v3", OPEN, FORCE, "Thought.</think>\n\nAnswer.", "Thought.", "\n\nAnswer.", []),
    ("nano_v3", OPEN, FORCE, "Thought.</think>\n" + CALL, "Thought.", "", [("f", '{"a": 1}')]),
    ("nano_v3", OPEN, FORCE, "</think>", "", "", []),
    ("nano_v3", CLOSED, {}, "Closed in the prompt.</think>", "", "Closed in the prompt.</think>",
     []),
    (LLAMA, ON, {}, "<think>\nHmm.\n</think>\n\nParis.",
     "\nHmm.", "\n\nParis.", []),
    (LLAMA, ON, {}, "<think>cut off", "cut off", "", []),
    (LLAMA, ON, {}, "No think block.", "", "No think block.", []),
    (LLAMA, ON, {}, "<thi", "", "<thi", []),
    (LLAMA, ON, {}, " <think>x</think>", "", " <think>x</think>", []),
    (LLAMA, ON, {}, "<think></think>" + CALL, "", "", [("f", '{"a": 1}')]),
    (LLAMA, ON, {}, "<think>Call it.\n" + CALL, "Call it.", "",
     [("f", '{"a": 1}')]),
    (LLAMA, ON, {}, "<think>x " + QWEN_CALL, "x " + QWEN_CALL, "", []),
    (LLAMA, "detailed thinking off", {}, "<think>x</think>y", "", "<think>x</think>y", []),
    (LLAMA, "sys", OFF, "<think>x</think>y", "x", "y", []),
    (LLAMA, "sys", OFF, "<think>\n</think>\n\ny", "", "\n\ny", []),
]


@pytest.mark.parametrize("name,prompt,kw,text,reasoning,content,calls", CORPUS)
@pytest.mark.parametrize("tags", ["one token", "pieces"])
def test_corpus(tag_tokenizer, tags, name, prompt, kw, text, reasoning, content, calls):
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    prompt_ids = tok.encode(prompt, add_special_tokens=False)
    expected = Result(reasoning, content, calls).normalized()
    args = dict(tool="llama_nemotron_json", reasoning=name, **kw)
    assert non_streaming(tok, text, prompt_ids, **args).normalized() == expected
    chunkings = [char_chunks(text, range(len(text))), char_chunks(text, range(0, len(text), 4))]
    if tags == "one token":
        chunkings.append(token_chunks(tok, text, range(len(text))))
    for chunks in chunkings:
        if tags == "pieces":
            chunks = [(t, [ord(c) for c in t]) for t, _ in chunks]
        assert streaming(tok, chunks, prompt_ids, **args).normalized() == expected


@pytest.mark.parametrize("tags", ["one token", "pieces"])
def test_token_views(tag_tokenizer, tags):
    """is_reasoning_end / is_reasoning_end_streaming / extract_content_ids / count agree."""
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    enc = lambda s: tok.encode(s, add_special_tokens=False)  # noqa: E731
    parser = make(tok, reasoning="nano_v3").reasoning_parser
    assert parser.is_reasoning_end(enc(CLOSED)) and not parser.is_reasoning_end(enc(OPEN))
    # Thinking off: the frontend still reads the output (to drop a re-emitted think block); a
    # grammar covers the output from its first token through adjust_request instead.
    off = make(tok, reasoning="nano_v3", enable_thinking=False).reasoning_parser
    assert not off.is_reasoning_end(enc(OPEN))
    llama = make(tok, reasoning="llama_nemotron_thinking").reasoning_parser
    assert not llama.is_reasoning_end(enc("detailed thinking on"))
    assert llama.is_reasoning_end(enc("detailed thinking off"))

    prompt, reasoning, content = enc(OPEN), enc("step one step two"), enc("Answer")
    output = reasoning + enc("</think>") + content
    fresh = make(tok, reasoning="nano_v3").reasoning_parser
    assert fresh.extract_content_ids(output) == content
    assert fresh.count_reasoning_tokens(output) >= len(reasoning)
    assert fresh.count_reasoning_tokens(output) <= len(reasoning) + len(enc("</think>"))
    # The engine-side gate, one token per step: ends exactly on the last piece of </think>.
    gate = make(tok, reasoning="nano_v3").reasoning_parser
    ended_at = [i for i in range(len(output))
                if gate.is_reasoning_end_streaming(prompt + output[: i + 1], [output[i]])]
    assert ended_at and ended_at[0] == len(reasoning) + len(enc("</think>")) - 1
    # Rechecking shorter speculative windows (vLLM pops tokens) gives the same answers.
    again = make(tok, reasoning="nano_v3").reasoning_parser
    full = prompt + output
    assert again.is_reasoning_end_streaming(full, output)
    shorter = len(content) + 1
    assert not again.is_reasoning_end_streaming(full[:-shorter], output[:-shorter])


class SpecialTagTokenizer(CharTokenizer):
    """Tags are special tokens that decoding with skip_special_tokens drops."""

    TAGS = {"<think>": 0x1000, "</think>": 0x1001, "<TOOLCALL>": 0x1002}

    def get_vocab(self):
        return {**super().get_vocab(), **self.TAGS}

    def decode(self, ids, skip_special_tokens=False):
        names = {v: k for k, v in self.TAGS.items()}
        return "".join(("" if skip_special_tokens else names[i]) if i in names else chr(i)
                       for i in ids)


def test_special_tags_are_kept_in_the_text():
    from tests.parsers.drive import request

    parser = make(SpecialTagTokenizer(), tool="llama_nemotron_json", reasoning="nano_v3")
    assert parser.adjust_request(request()).skip_special_tokens is False
    # Plain-text tags leave vLLM's default alone (0.32: True; 0.33: None, decided later).
    plain = make(CharTokenizer(), tool="llama_nemotron_json", reasoning="nano_v3")
    assert plain.adjust_request(request()).skip_special_tokens == request().skip_special_tokens


@pytest.mark.parametrize("tags", ["one token", "pieces"])
@pytest.mark.parametrize("name,prompt", [("nano_v3", OPEN), ("llama_nemotron_thinking", "<think>")])
def test_implicit_end_token_views(tag_tokenizer, tags, name, prompt):
    """A tool call from the thought: content ids start at the opener, usage counts the thought,
    and the structured-output gate ends on the opener's last token (the grammar starts after)."""
    tok = tag_tokenizer if tags == "one token" else CharTokenizer()
    enc = lambda s: tok.encode(s, add_special_tokens=False)  # noqa: E731
    prompt_ids, thought, call = enc(prompt), enc("I will call f. "), enc(CALL)
    output = thought + call
    parser = make(tok, reasoning=name).reasoning_parser
    parser.is_reasoning_end(prompt_ids)
    assert parser.extract_content_ids(output) == call
    assert parser.count_reasoning_tokens(output) == len(thought)
    gate = make(tok, reasoning=name).reasoning_parser
    ended = [i for i in range(len(output))
             if gate.is_reasoning_end_streaming(prompt_ids + output[: i + 1], [output[i]])]
    assert ended[0] == len(thought) + len(enc("<TOOLCALL>")) - 1


def test_usage_counts_tokens_before_the_end_of_thinking(tag_tokenizer):
    enc = lambda s: tag_tokenizer.encode(s, add_special_tokens=False)  # noqa: E731
    parser = make(tag_tokenizer, reasoning="nano_v3").reasoning_parser
    parser.is_reasoning_end(enc(OPEN))
    thought, rest = enc("Step one. Step two."), enc("</think>Paris.")
    assert parser.count_reasoning_tokens(thought + rest) == len(thought)
    assert parser.count_reasoning_tokens(enc("<think>") + thought + rest) == len(thought)
    assert parser.count_reasoning_tokens(thought) == len(thought)  # cut off while thinking
    off = make(tag_tokenizer, reasoning="nano_v3", enable_thinking=False).reasoning_parser
    assert off.count_reasoning_tokens(enc("Paris.")) == 0
    assert off.count_reasoning_tokens(enc("<think></think>Paris.")) == 0


@pytest.mark.parametrize("kwargs,structured,covered", [
    ({"enable_thinking": False}, {"response_format": {"type": "json_object"}}, True),
    ({"enable_thinking": False}, {"tool_choice": "required"}, True),
    ({"enable_thinking": False}, {"tool_choice": {"type": "function", "function": {"name": "f"}}},
     True),
    ({"enable_thinking": False}, {}, False),
    ({}, {"response_format": {"type": "json_object"}}, False),
])
def test_thinking_off_grammar_covers_the_whole_output(kwargs, structured, covered):
    """Thinking off: the frontend reads the output from START (to drop a re-emitted think
    block), so for a grammar the parser tells vLLM to constrain from the first token."""
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

    from tests.parsers.drive import TOOLS

    req = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                                tools=TOOLS, chat_template_kwargs=kwargs or None, **structured)
    parser = make(CharTokenizer(), reasoning="nano_v3", **kwargs)
    parser.adjust_request(req)
    assert req._grammar_from_parser is covered
    if covered:  # vLLM then constrains from the first generated token
        assert req.resolve_reasoning_ended(parser, CharTokenizer().encode(CLOSED)) is True


def test_prompt_token_ids_from_vllm_033(tag_tokenizer):
    """vLLM 0.33 shows the rendered prompt through set_prompt_token_ids before parsing."""
    enc = lambda s: tag_tokenizer.encode(s, add_special_tokens=False)  # noqa: E731
    parser = make(tag_tokenizer, reasoning="nano_v3").reasoning_parser
    parser.set_prompt_token_ids(enc(CLOSED))
    assert parser.extract_reasoning("Paris.</think>", None) == (None, "Paris.</think>")
    parser.set_prompt_token_ids(enc(OPEN))
    assert parser.extract_reasoning("Hmm.</think>Paris.", None) == ("Hmm.", "Paris.")
