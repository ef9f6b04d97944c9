"""Our reasoning parsers beside vLLM's in-tree ones, case by case, in one run.

For each untidy output real Nemotron checkpoints write, every parser is driven the way vLLM's
chat serving drives it (tests/parsers/drive.py), non-streaming and streamed one token at a
time, with `<think>` as one vocabulary token and as character pieces. A cell says "ok" when the
parser gives what a client needs (the expected reasoning, content and tool calls, streamed and
not), else what went wrong. docs/reasoning-parsers.md keeps the table this prints.
Run: python benchmarks/compare_reasoning_parsers.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.parsers.drive import (  # noqa: E402
    CharTokenizer,
    Result,
    char_chunks,
    non_streaming,
    streaming,
    token_chunks,
)
from vllm_nemotron.tiny import save_tokenizer  # noqa: E402

PARSERS = ["nano_v3", "llama_nemotron_thinking", "nemotron_v3", "deepseek_r1"]
OPEN = "<|im_start|>assistant\n<think>\n"
CLOSED = "<|im_start|>assistant\n<think></think>"
XML_CALL = "<tool_call>\n<function=f>\n<parameter=a>\n1\n</parameter>\n</function>\n</tool_call>"
JSON_CALL = '<TOOLCALL>[{"name": "f", "arguments": {}}]</TOOLCALL>'
OFF = {"enable_thinking": False}
FORCE = {"force_nonempty_content": True}

# (case, prompt, template kwargs, output, expected (reasoning, content, number of calls))
CASES = [
    ("answer after </think>", OPEN, {}, "Thought.</think>Answer.", ("Thought.", "Answer.", 0)),
    ("trailing reasoning whitespace", OPEN, {}, "Thought. \n\n</think>Answer.",
     ("Thought.", "Answer.", 0)),
    ("cut off while thinking", OPEN, {}, "cut off", ("cut off", "", 0)),
    ("re-emitted <think>", OPEN, {}, "<think>Again.</think>Answer.", ("Again.", "Answer.", 0)),
    ("<tool_call> from the thought", OPEN, {}, "Thought.\n" + XML_CALL, ("Thought.", "", 1)),
    ("<TOOLCALL> from the thought", OPEN, {}, "Thought.\n" + JSON_CALL, ("Thought.", "", 1)),
    ("thinking off, empty think block", CLOSED, OFF, "<think></think>Paris.", ("", "Paris.", 0)),
    ("thinking off, model thought anyway", CLOSED, OFF, "<think>Capital.</think>",
     ("Capital.", "Capital.", 0)),
    ("force_nonempty_content, empty answer", OPEN, FORCE, "Only a thought.</think>",
     ("Only a thought.", "Only a thought.", 0)),
]


def tag_tokenizer():
    from transformers import AutoTokenizer

    path = tempfile.mkdtemp(prefix="compare-tok-")
    save_tokenizer(path)
    return AutoTokenizer.from_pretrained(path)


def verdict(tokenizer, name: str, prompt: str, kwargs: dict, text: str,
            expected: tuple[str, str, int]) -> str:
    tool = "qwen3_coder" if "<tool_call>" in text else "llama_nemotron_json"
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    if isinstance(tokenizer, CharTokenizer):
        chunks = char_chunks(text, range(len(text)))
    else:
        chunks = token_chunks(tokenizer, text, range(len(text)))
    args = dict(tool=tool, reasoning=name, **kwargs)
    try:
        whole = non_streaming(tokenizer, text, prompt_ids, **args).normalized()
        streamed = streaming(tokenizer, chunks, prompt_ids, **args).normalized()
    except Exception as exc:  # a parser that cannot serve this tokenizer at all
        return f"raises {type(exc).__name__}"
    want = Result(expected[0], expected[1], []).normalized()
    problems = []
    for label, got in (("", whole), ("streamed: ", streamed)):
        if len(got.calls) != expected[2]:
            problems.append(f"{label}{len(got.calls)} calls")
        elif got.reasoning != want.reasoning or (not got.calls and got.content != want.content):
            problems.append(f"{label}r={got.reasoning!r} c={got.content!r}")
    if not problems:
        return "ok"
    if len(problems) == 2 and problems[1] == "streamed: " + problems[0]:
        return problems[0]
    return "; ".join(problems)


def main() -> None:
    tokenizers = {"one token": tag_tokenizer(), "pieces": CharTokenizer()}
    print("| case | tags | " + " | ".join(PARSERS) + " |")
    print("|---|---|" + "---|" * len(PARSERS))
    for case, prompt, kwargs, text, expected in CASES:
        for tags, tokenizer in tokenizers.items():
            cells = [verdict(tokenizer, name, prompt, kwargs, text, expected) for name in PARSERS]
            print(f"| {case} | {tags} | " + " | ".join(c.replace("|", "/") for c in cells) + " |")


if __name__ == "__main__":
    main()
