"""`nemotron3_xml` vs vLLM's `qwen3_coder` on long tool-call arguments, streamed and whole.

One call whose one string parameter holds 8k/16k/32k characters (an HTML-ish file, so the
value has many `<`), in the Nemotron 3 format. Both parsers get the same deltas: the harness
tokenizer's tokens (`<tool_call>` is one token), one per delta, with their token ids; "stream"
sums every delta and the end of the stream, "whole" is one `extract_tool_calls`. Both must
return the same arguments. Each figure is the best of 3 runs.
Run: python benchmarks/bench_nemotron3_xml.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest  # noqa: E402
from vllm.tool_parsers.qwen3_engine_tool_parser import Qwen3EngineToolParser  # noqa: E402

from vllm_nemotron.parsers.nemotron3_xml_tool_parser import Nemotron3XmlToolParser  # noqa: E402
from vllm_nemotron.tiny import save_tokenizer  # noqa: E402

SIZES = (8192, 16384, 32768)
TOOLS = [{"type": "function", "function": {"name": "write_file", "parameters": {
    "type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}}}]
REQUEST = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                                tools=TOOLS)
PARSERS = {"nemotron3_xml": Nemotron3XmlToolParser, "qwen3_coder": Qwen3EngineToolParser}
ROUNDS = 3


def tokenizer():
    from transformers import AutoTokenizer

    path = tempfile.mkdtemp(prefix="bench-tok-")
    save_tokenizer(path, vocab_size=2048)
    return AutoTokenizer.from_pretrained(path)


def output(n_chars: int) -> tuple[str, str]:
    """(model output, the content value) for a call with an n-character value."""
    content = ("<p>lorem <b>ipsum</b> dolor if a < b then {sit} \"amet\"</p>\n"
               * (n_chars // 50 + 1))[:n_chars]
    text = ("<tool_call>\n<function=write_file>\n<parameter=path>\nindex.html\n</parameter>\n"
            f"<parameter=content>\n{content}\n</parameter>\n</function>\n</tool_call>")
    return text, content


def token_deltas(tok, text: str) -> list[tuple[str, list[int]]]:
    ids = tok.encode(text, add_special_tokens=False)
    return [(tok.decode([i]), [i]) for i in ids]


def stream(tok, cls, pieces) -> str:
    """Both parsers read only each delta (qwen3_coder is engine-based too), so the text and
    ids so far, which vLLM's serving layer accumulates for both alike, are not built here."""
    parser = cls(tok, TOOLS)
    arguments, messages = "", []
    for text, ids in pieces:
        messages.append(parser.extract_tool_calls_streaming("", "", text, [], [], ids, REQUEST))
    messages.append(parser.finish_streaming())
    for message in messages:
        for call in (message.tool_calls if message else None) or []:
            arguments += (call.function.arguments or "") if call.function else ""
    return arguments


def whole(tok, cls, text) -> str:
    return cls(tok, TOOLS).extract_tool_calls(text, REQUEST).tool_calls[0].function.arguments


def timed(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    tok = tokenizer()
    rows = {}
    for size in SIZES:
        text, content = output(size)
        pieces = token_deltas(tok, text)
        for name, cls in PARSERS.items():
            for mode, fn in (("stream", lambda: stream(tok, cls, pieces)),
                             ("whole", lambda: whole(tok, cls, text))):
                assert json.loads(fn())["content"] == content, (name, mode)
                rows[name, mode, size] = timed(fn)
    print(f"{'arguments':>10}{'deltas':>8}  {'ours stream ms':>15}{'qwen3_coder stream ms':>23}"
          f"{'ratio':>8}  {'ours whole ms':>14}{'qwen3_coder whole ms':>22}{'ratio':>8}")
    for size in SIZES:
        n = len(token_deltas(tok, output(size)[0]))
        s, q = rows["nemotron3_xml", "stream", size], rows["qwen3_coder", "stream", size]
        ws, wq = rows["nemotron3_xml", "whole", size], rows["qwen3_coder", "whole", size]
        print(f"{size:>10}{n:>8}  {s * 1e3:>15.1f}{q * 1e3:>23.1f}{q / s:>8.1f}"
              f"  {ws * 1e3:>14.2f}{wq * 1e3:>22.2f}{wq / ws:>8.1f}")
    print("\ngrowth 8k -> 32k (linear = 4x, quadratic = 16x)")
    for name in PARSERS:
        for mode in ("stream", "whole"):
            growth = rows[name, mode, SIZES[-1]] / rows[name, mode, SIZES[0]]
            print(f"  {name:<15}{mode:<8}{growth:5.1f}x")


if __name__ == "__main__":
    main()
