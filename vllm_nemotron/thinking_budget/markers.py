"""The token ids that open and close thinking, as the served tokenizer spells them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

START_TAG = "<think>"
CLOSE_TAG = "</think>"
# Forced once the budget (and grace) is spent; the blank line separates thought from answer.
END_TEXT = "\n</think>\n\n"
# Forced instead when a grammar constrains the answer: the grammar owns every token after
# `</think>` (vLLM terminates a request whose sampled token its grammar rejects).
CLOSING_TEXT = "\n</think>"
# A tool call opened straight from the thought ends thinking too (the reasoning parsers'
# "implicit end"): Nemotron-3-Nano's and Nano-v2 / Llama-Nemotron's openers.
TOOL_STARTS = ("<tool_call>", "<TOOLCALL>")
# How much of the prompt decides whether the template left thinking open.
PROMPT_TAIL = 32
# A token whose text ends like this finishes a line or a sentence: grace ends after it.
SENTENCE_ENDS = ("\n", ".", "!", "?", "\u3002", "\uff01", "\uff1f")


@dataclass(frozen=True)
class ThinkingMarkers:
    """Token sequences for `<think>`, `</think>`, the forced ends and the tool-call openers,
    plus line/sentence enders.

    Tags are sequences because a tokenizer without special `<think>` tokens splits them.
    """

    start: tuple[int, ...]
    close: tuple[int, ...]
    end_sequence: tuple[int, ...]
    boundaries: frozenset[int]
    closing_sequence: tuple[int, ...]
    tool_starts: tuple[tuple[int, ...], ...] = ()

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> ThinkingMarkers:
        def encode(text: str) -> tuple[int, ...]:
            return tuple(tokenizer.encode(text, add_special_tokens=False))

        vocab_size = len(tokenizer)
        # One batched decode at first use (in Rust for fast tokenizers), never per step.
        texts = tokenizer.batch_decode([[i] for i in range(vocab_size)])
        boundaries = frozenset(
            i for i, text in enumerate(texts) if text.rstrip(" \t").endswith(SENTENCE_ENDS))
        return cls(encode(START_TAG), encode(CLOSE_TAG), encode(END_TEXT), boundaries,
                   encode(CLOSING_TEXT), tuple(encode(t) for t in TOOL_STARTS))


def ends_with(tokens: Sequence[int], end: int, pattern: tuple[int, ...]) -> bool:
    """Whether `tokens[:end]` ends with `pattern`."""
    start = end - len(pattern)
    return start >= 0 and tuple(tokens[start:end]) == pattern


def prompt_thinking(markers: ThinkingMarkers, prompt_tail: Sequence[int]) -> bool | None:
    """Whether the prompt ends inside `<think>` (True: the chat template opened it), after
    `</think>` (False: the template or a prefill closed it), or with neither in its tail."""
    last_start = last_close = -1
    for end in range(len(prompt_tail), 0, -1):
        if last_start < 0 and ends_with(prompt_tail, end, markers.start):
            last_start = end
        if last_close < 0 and (ends_with(prompt_tail, end, markers.close)
                               or ends_with(prompt_tail, end, markers.end_sequence)):
            last_close = end
        if last_start >= 0 or last_close >= 0:
            break
    if last_start < 0 and last_close < 0:
        return None
    return last_start > last_close


def prompt_opens_thinking(markers: ThinkingMarkers, prompt_tail: Sequence[int]) -> bool:
    """True when the prompt ends inside `<think>` (the chat template opened it)."""
    return prompt_thinking(markers, prompt_tail) is True


class LazyMarkers:
    """Markers built from the served tokenizer on first use, so unbudgeted servers pay nothing."""

    def __init__(self, model_config: Any):
        self.model_config = model_config
        self.markers: ThinkingMarkers | None = None

    def get(self) -> ThinkingMarkers:
        if self.markers is None:
            from vllm.tokenizers.registry import cached_tokenizer_from_config

            tokenizer = cached_tokenizer_from_config(self.model_config)
            if tokenizer is None:
                raise ValueError("thinking_budget needs the served tokenizer; "
                                 "do not use --skip-tokenizer-init with it")
            self.markers = ThinkingMarkers.from_tokenizer(tokenizer)
        return self.markers
