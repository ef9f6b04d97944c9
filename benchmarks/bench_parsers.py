"""Streaming cost of our parsers vs one non-streaming parse vs re-parsing the whole buffer.

Streams long outputs in 4-character deltas (about one token each): tool-call arguments of
8k/16k/32k characters, and reasoning of 8k/16k/32k tokens. "naive" runs the same parsing
code over the whole text so far on every delta (what a re-parsing streaming parser does).
Run: python benchmarks/bench_parsers.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vllm_nemotron.parsers.llama_nemotron_json_tool_parser import LlamaNemotronJsonToolParser, ToolCallScanner  # noqa: E402
from vllm_nemotron.parsers.nano_v3_reasoning_parser import NanoV3ReasoningParser, ThinkSplitter  # noqa: E402

DELTA = 4


class CharTokenizer:
    def get_vocab(self):
        return {}

    def decode(self, ids, skip_special_tokens=False):
        return "".join(map(chr, ids))


def deltas(text):
    return [text[i : i + DELTA] for i in range(0, len(text), DELTA)]


def tool_output(n_chars):
    words = ("lorem ipsum {dolor} [sit] \"amet\" " * (n_chars // 30 + 1))[:n_chars]
    return '<TOOLCALL>[{"name": "f", "arguments": ' + json.dumps({"text": words}) + "}]</TOOLCALL>"


def reasoning_output(n_tokens):
    return "abc " * n_tokens + "</think>The answer."


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def tool_streaming(text):
    parser = LlamaNemotronJsonToolParser(CharTokenizer())
    args = ""
    for d in deltas(text):
        m = parser.extract_tool_calls_streaming("", "", d, [], [], [], None)
        if m and m.tool_calls:
            args += m.tool_calls[0].function.arguments or ""
    m = parser.finish_streaming()
    return args


def tool_naive(text):
    """Re-scan everything so far on each delta; send the new part of the arguments."""
    sent, current = 0, ""
    for d in deltas(text):
        current += d
        events = ToolCallScanner().feed(current)
        args = "".join(e[2] for e in events if e[0] == "args")
        sent = len(args)
    return sent


def reasoning_streaming(text):
    parser = NanoV3ReasoningParser(CharTokenizer())
    for d in deltas(text):
        parser.extract_reasoning_streaming("", "", d, [], [], [])
    parser.finish_streaming()


def reasoning_naive(text):
    current, sent = "", 0
    for d in deltas(text):
        current += d
        splitter = ThinkSplitter("reasoning")
        reasoning, _ = splitter.feed(current)
        sent = len(reasoning)
    return sent


def main():
    rows = []
    for kind, make, stream, oneshot, naive in (
        ("tool args (chars)", tool_output, tool_streaming,
         lambda t: LlamaNemotronJsonToolParser(CharTokenizer()).extract_tool_calls(t, None), tool_naive),
        ("reasoning (tokens)", reasoning_output, reasoning_streaming,
         lambda t: NanoV3ReasoningParser(CharTokenizer()).extract_reasoning(t, None), reasoning_naive),
    ):
        for size in (8192, 16384, 32768):
            text = make(size)
            if kind.startswith("tool"):
                final = oneshot(text).tool_calls[0].function.arguments
                assert tool_streaming(text) == final, "streamed arguments differ"
            t_stream, t_one, t_naive = timed(lambda: stream(text)), timed(lambda: oneshot(text)), timed(lambda: naive(text))
            rows.append((kind, size, t_stream, t_one, t_naive))
    print(f"{'output':<20}{'size':>7}{'stream ms':>11}{'1-shot ms':>11}{'stream/1-shot':>15}"
          f"{'naive ms':>11}{'naive/stream':>14}")
    for kind, size, s, o, n in rows:
        print(f"{kind:<20}{size:>7}{s * 1e3:>11.1f}{o * 1e3:>11.2f}{s / o:>15.1f}{n * 1e3:>11.1f}{n / s:>14.1f}")
    print("\ngrowth 8k -> 32k (linear = 4x, quadratic = 16x)")
    for kind in ("tool args (chars)", "reasoning (tokens)"):
        r = {size: (s, n) for k, size, s, _, n in rows if k == kind}
        print(f"  {kind:<20} ours {r[32768][0] / r[8192][0]:5.1f}x   naive {r[32768][1] / r[8192][1]:5.1f}x")


if __name__ == "__main__":
    main()
