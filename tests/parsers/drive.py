"""Drive our parsers through vLLM's own composed `Parser`, as the chat serving code does.

Non-streaming: `is_reasoning_end(prompt)` (the serving layer's `resolve_reasoning_ended`),
then `parse`. Streaming: `parse_delta` per chunk, `finished=True` on the last. The streamed
deltas are folded into the same (reasoning, content, calls) shape for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.parser.parser_manager import ParserManager

import vllm_nemotron.parsers.llama_nemotron_json_tool_parser  # noqa: F401  (registers the names)
import vllm_nemotron.parsers.nano_v3_reasoning_parser  # noqa: F401
import vllm_nemotron.parsers.nemotron3_xml_tool_parser  # noqa: F401
import vllm_nemotron.parsers.nemotron_mini_tool_parser  # noqa: F401

TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("get_weather", "f", "g")
]


class CharTokenizer:
    """One token per character: every tag arrives as several ordinary pieces."""

    def get_vocab(self) -> dict[str, int]:
        return {chr(i): i for i in range(0x110000) if i < 0x250}

    def decode(self, ids, skip_special_tokens=False) -> str:
        return "".join(chr(i) for i in ids)

    def encode(self, text, add_special_tokens=False) -> list[int]:
        return [ord(c) for c in text]


def request(tool_choice="auto", **template_kwargs) -> ChatCompletionRequest:
    return ChatCompletionRequest(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        tools=TOOLS,
        tool_choice=tool_choice,
        chat_template_kwargs=template_kwargs or None,
    )


@dataclass
class Result:
    reasoning: str = ""
    content: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)

    def normalized(self) -> Result:
        # vLLM drops whitespace-only content next to tool calls in non-streaming responses.
        content = self.content if (self.content.strip() or not self.calls) else ""
        return Result(self.reasoning, content, list(self.calls))


def blank_as_empty(result: Result) -> Result:
    """vLLM (not the parser) drops whitespace-only content of a forced call that did not come,
    in non-streaming responses only."""
    return Result(result.reasoning, result.content if result.content.strip() else "",
                  result.calls)


def make(tokenizer, tool=None, reasoning=None, **template_kwargs):
    cls = ParserManager.get_parser(
        tool_parser_name=tool, reasoning_parser_name=reasoning, enable_auto_tools=tool is not None
    )
    return cls(tokenizer, TOOLS, chat_template_kwargs=template_kwargs)


def non_streaming(tokenizer, text, prompt_ids=(), tool=None, reasoning=None, **kw) -> Result:
    parser = make(tokenizer, tool, reasoning, **kw)
    req = request(**kw)
    if reasoning is not None:
        parser.is_reasoning_end(list(prompt_ids))
    r, c, calls = parser.parse(text, req, enable_auto_tools=tool is not None)
    return Result(r or "", c or "", [(t.name, t.arguments) for t in calls or []])


def streaming(tokenizer, chunks, prompt_ids=(), tool=None, reasoning=None, **kw) -> Result:
    """`chunks`: list of (text, token_ids)."""
    parser = make(tokenizer, tool, reasoning, **kw)
    req = request(**kw)
    out = Result()
    names: dict[int, str] = {}
    args: dict[int, str] = {}
    ids: dict[int, str] = {}
    for i, (text, token_ids) in enumerate(chunks):
        delta = parser.parse_delta(
            text, list(token_ids), req, prompt_token_ids=list(prompt_ids),
            finished=i == len(chunks) - 1,
        )
        if delta is None:
            continue
        out.reasoning += delta.reasoning or ""
        out.content += delta.content or ""
        for call in delta.tool_calls:
            if call.id is not None:
                assert call.index not in ids, "a call id was sent twice"
                ids[call.index] = call.id
            if call.function and call.function.name is not None:
                assert call.index not in names, "a function name was sent twice"
                names[call.index] = call.function.name
            if call.function and call.function.arguments:
                assert call.index in names, "arguments before the name"
                args[call.index] = args.get(call.index, "") + call.function.arguments
    assert len(set(ids.values())) == len(ids), "call ids are not unique"
    out.calls = [(names[i], args.get(i, "")) for i in sorted(names)]
    return out


def char_chunks(text: str, cuts) -> list[tuple[str, list[int]]]:
    """Split `text` at the given positions (one id per character)."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(text)}), len(text)]
    pieces = [text[a:b] for a, b in zip(bounds, bounds[1:])] or [""]
    return [(p, [ord(c) for c in p]) for p in pieces]


def token_chunks(tokenizer, text: str, cuts) -> list[tuple[str, list[int]]]:
    """Tokenize (tags become single tokens), then group tokens at the given positions."""
    ids = tokenizer.encode(text, add_special_tokens=False)

    def prefix(n):
        return tokenizer.decode(ids[:n], skip_special_tokens=False)

    # Cut only where the text so far decodes cleanly, as vLLM's detokenizer does.
    ok = [c for c in sorted(set(cuts)) if 0 < c < len(ids) and text.startswith(prefix(c))
          and not prefix(c).endswith("\ufffd")]
    bounds = [0, *ok, len(ids)]
    texts = [prefix(b) for b in bounds]
    return [(texts[k + 1][len(texts[k]):], ids[a:b])
            for k, (a, b) in enumerate(zip(bounds, bounds[1:]))] or [("", [])]
