"""What the end-to-end budget tests read off a served answer, in one place."""

from __future__ import annotations

from vllm_nemotron.thinking_budget.markers import END_TEXT


def thinking_tokens(choice) -> int:
    """Tokens a choice generated before `</think>` (all of them when thinking never closed);
    the choice must carry `logprobs`."""
    tokens = [t.token for t in choice.logprobs.content]
    return tokens.index("</think>") if "</think>" in tokens else len(tokens)


def end_sequence(tokenizer) -> tuple[int, int]:
    """(length of the forced end sequence in tokens, position of `</think>` within it)."""
    end_ids = tokenizer.encode(END_TEXT, add_special_tokens=False)
    return len(end_ids), end_ids.index(tokenizer.convert_tokens_to_ids("</think>"))
