"""Streaming cost of our parsers vs one non-streaming parse, a re-parsing stream, and in-tree vLLM.

Streams long outputs in 4-character deltas (about one token each; the figures in
benchmarks/RESULTS.md were taken the same way): tool-call arguments of 8k/16k/32k characters
(read as they come, sent whole when the block's list closes), and reasoning of 8k/16k/32k
tokens.
- "naive" runs our parsing code over the whole text so far on every delta (what a streaming
  parser that re-parses `current_text` does);
- "in-tree" streams the same content through vLLM's nearest parser: `hermes` for JSON
  arguments (inside its `<tool_call>` tags) and the engine-based `nemotron_v3` for reasoning,
  one token per delta, with the token ids vLLM's serving layer passes (the harness tokenizer).
Each figure is the best of 3 runs. Run: python benchmarks/bench_parsers.py
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
from vllm.parser.engine.registered_adapters import NemotronV3ParserReasoningAdapter  # noqa: E402
from vllm.tool_parsers.hermes_tool_parser import Hermes2ProToolParser  # noqa: E402

from vllm_nemotron.parsers.llama_nemotron_json_tool_parser import (  # noqa: E402
    LlamaNemotronJsonToolParser,
    ToolCallScanner,
)
from vllm_nemotron.parsers.nano_v3_reasoning_parser import (  # noqa: E402
    Mode,
    NanoV3ReasoningParser,
    ThinkSplitter,
)
from vllm_nemotron.tiny import save_tokenizer  # noqa: E402

SIZES = (8192, 16384, 32768)
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
REQUEST = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                                tools=TOOLS)


def tokenizer():
    from transformers import AutoTokenizer

    path = tempfile.mkdtemp(prefix="bench-tok-")
    save_tokenizer(path, vocab_size=2048)
    return AutoTokenizer.from_pretrained(path)


DELTA = 4


def deltas(text: str) -> list[tuple[str, list[int]]]:
    """4-character deltas for our parsers, which read text only."""
    return [(text[i:i + DELTA], []) for i in range(0, len(text), DELTA)]


def token_deltas(tok, text: str) -> list[tuple[str, list[int]]]:
    """(text, [token id]) per token, as the detokenizer hands them to in-tree parsers."""
    ids = tok.encode(text, add_special_tokens=False)
    return [(tok.decode([i]), [i]) for i in ids]


def arguments_json(n_chars: int) -> str:
    words = ("lorem ipsum {dolor} [sit] \"amet\" " * (n_chars // 30 + 1))[:n_chars]
    return json.dumps({"text": words})


def ours_tool_output(n: int) -> str:
    return '<TOOLCALL>[{"name": "f", "arguments": ' + arguments_json(n) + "}]</TOOLCALL>"


def hermes_tool_output(n: int) -> str:
    return '<tool_call>{"name": "f", "arguments": ' + arguments_json(n) + "}</tool_call>"


def reasoning_output(n_tokens: int) -> str:
    return "abc " * n_tokens + "</think>The answer."


ROUNDS = 3  # each figure is the best of this many runs: a shared machine only ever adds time


def timed(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def tool_streaming(tok, pieces) -> str:
    parser = LlamaNemotronJsonToolParser(tok)
    args = ""
    for text, ids in pieces:
        m = parser.extract_tool_calls_streaming("", "", text, [], [], ids, REQUEST)
        if m and m.tool_calls:
            args += m.tool_calls[0].function.arguments or ""
    parser.finish_streaming()
    return args


def tool_naive(tok, pieces) -> int:
    """Re-scan everything so far on each delta; count the calls found so far."""
    current, found = "", 0
    for text, _ in pieces:
        current += text
        found = sum(e.type.name == "TOOL_CALL_END" for e in ToolCallScanner().feed(current))
    return found


def tool_in_tree(tok, pieces) -> None:
    parser = Hermes2ProToolParser(tok, TOOLS)
    previous, previous_ids = "", []
    for text, ids in pieces:
        current, current_ids = previous + text, previous_ids + ids
        parser.extract_tool_calls_streaming(previous, current, text, previous_ids, current_ids,
                                            ids, REQUEST)
        previous, previous_ids = current, current_ids


def reasoning_streaming(tok, pieces) -> None:
    parser = NanoV3ReasoningParser(tok)
    for text, ids in pieces:
        parser.extract_reasoning_streaming("", "", text, [], [], ids)
    parser.finish_streaming()


def reasoning_naive(tok, pieces) -> int:
    current, sent = "", 0
    for text, _ in pieces:
        current += text
        sent = sum(len(e.value) for e in ThinkSplitter(Mode.REASONING).feed(current)
                   if e.type.name == "REASONING_CHUNK")
    return sent


def reasoning_in_tree(tok, pieces) -> None:
    parser = NemotronV3ParserReasoningAdapter(tok)
    parser.adjust_initial_state_from_prompt(tok.encode("<think>\n", add_special_tokens=False))
    previous, previous_ids = "", []
    for text, ids in pieces:
        current, current_ids = previous + text, previous_ids + ids
        parser.extract_reasoning_streaming(previous, current, text, previous_ids, current_ids, ids)
        previous, previous_ids = current, current_ids
    parser.finish_streaming()


def main() -> None:
    tok = tokenizer()
    rows = []
    for kind, make_ours, make_in_tree, stream, one_shot, naive, in_tree in (
        ("tool args (chars)", ours_tool_output, hermes_tool_output, tool_streaming,
         lambda t: LlamaNemotronJsonToolParser(tok).extract_tool_calls(t, REQUEST), tool_naive,
         tool_in_tree),
        ("reasoning (tokens)", reasoning_output, reasoning_output, reasoning_streaming,
         lambda t: NanoV3ReasoningParser(tok).extract_reasoning(t, REQUEST), reasoning_naive,
         reasoning_in_tree),
    ):
        for size in SIZES:
            text = make_ours(size)
            pieces, tree_pieces = deltas(text), token_deltas(tok, make_in_tree(size))
            if kind.startswith("tool"):
                final = one_shot(text).tool_calls[0].function.arguments
                assert tool_streaming(tok, pieces) == final, "streamed arguments differ"
            rows.append((kind, size, timed(lambda: stream(tok, pieces)),
                         timed(lambda: one_shot(text)), timed(lambda: naive(tok, pieces)),
                         timed(lambda: in_tree(tok, tree_pieces))))
    print(f"{'output':<20}{'size':>7}{'stream ms':>11}{'1-shot ms':>11}{'naive ms':>11}"
          f"{'in-tree ms':>12}{'naive/stream':>14}{'in-tree/stream':>16}")
    for kind, size, s, o, n, t in rows:
        print(f"{kind:<20}{size:>7}{s * 1e3:>11.1f}{o * 1e3:>11.2f}{n * 1e3:>11.1f}"
              f"{t * 1e3:>12.1f}{n / s:>14.1f}{t / s:>16.1f}")
    print("\ngrowth 8k -> 32k (linear = 4x, quadratic = 16x)")
    for kind in ("tool args (chars)", "reasoning (tokens)"):
        r = {size: (s, n, t) for k, size, s, _, n, t in rows if k == kind}
        growth = [r[SIZES[-1]][j] / r[SIZES[0]][j] for j in range(3)]
        print(f"  {kind:<20} ours {growth[0]:5.1f}x   naive {growth[1]:5.1f}x"
              f"   in-tree {growth[2]:5.1f}x")


if __name__ == "__main__":
    main()
