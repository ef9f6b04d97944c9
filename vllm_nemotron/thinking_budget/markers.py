"""The token ids that open and close thinking, as the served tokenizer spells them."""

from __future__ import annotations

from dataclasses import dataclass

START_TAG = "<think>"
CLOSE_TAG = "</think>"
# Forced once the budget (and grace) is spent; the blank line separates thought from answer.
END_TEXT = "\n</think>\n\n"
# A token whose text ends like this finishes a line or a sentence: grace ends after it.
# How much of the prompt decides whether the template left thinking open.
PROMPT_TAIL = 32
SENTENCE_ENDS = ("\n", ".", "!", "?", "\u3002", "\uff01", "\uff1f")


@dataclass(frozen=True)
class ThinkingMarkers:
    """Token sequences for `<think>`, `</think>` and the forced end, plus line/sentence enders.

    Tags are sequences because a tokenizer without special `<think>` tokens splits them.
    """

    start: tuple[int, ...]
    close: tuple[int, ...]
    end_sequence: tuple[int, ...]
    boundaries: frozenset[int]

    @classmethod
    def from_tokenizer(cls, tokenizer) -> ThinkingMarkers:
        def encode(text: str) -> tuple[int, ...]:
            return tuple(tokenizer.encode(text, add_special_tokens=False))

        vocab_size = len(tokenizer)
        # One batched decode at first use (in Rust for fast tokenizers), never per step.
        texts = tokenizer.batch_decode([[i] for i in range(vocab_size)])
        boundaries = frozenset(
            i for i, text in enumerate(texts) if text.rstrip(" \t").endswith(SENTENCE_ENDS))
        return cls(encode(START_TAG), encode(CLOSE_TAG), encode(END_TEXT), boundaries)


def ends_with(tokens, end: int, pattern: tuple[int, ...]) -> bool:
    """Whether `tokens[:end]` ends with `pattern`."""
    start = end - len(pattern)
    return start >= 0 and tuple(tokens[start:end]) == pattern


def prompt_opens_thinking(markers: ThinkingMarkers, prompt_tail) -> bool:
    """True when the prompt ends inside `<think>` (the chat template opened it)."""
    last_start = last_close = -1
    for end in range(len(prompt_tail), 0, -1):
        if last_start < 0 and ends_with(prompt_tail, end, markers.start):
            last_start = end
        if last_close < 0 and (ends_with(prompt_tail, end, markers.close)
                               or ends_with(prompt_tail, end, markers.end_sequence)):
            last_close = end
        if last_start >= 0 or last_close >= 0:
            break
    return last_start > last_close
