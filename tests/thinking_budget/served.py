"""What the end-to-end budget tests read off a served answer, in one place."""

from __future__ import annotations

from vllm_nemotron.thinking_budget.markers import END_TEXT, TOOL_STARTS

# Thinking ends at `</think>` or at a tool-call opener (the random model writes those too;
# the parsers and the budget both read one as the end of thinking).
THOUGHT_ENDS = ("</think>", *TOOL_STARTS)


def thought_end(tokens: list[str]) -> int | None:
    """Where thinking ended in a list of token strings, or None if it never did."""
    return next((i for i, token in enumerate(tokens) if token in THOUGHT_ENDS), None)


def thinking_tokens(choice) -> int:
    """Tokens a choice generated before thinking ended (all of them when it never did);
    the choice must carry `logprobs`."""
    tokens = [t.token for t in choice.logprobs.content]
    end = thought_end(tokens)
    return len(tokens) if end is None else end


def answer(choice) -> str | None:
    """What a choice said after thinking ended (a tool-call opener counts as answer), or None
    when thinking never ended; the choice must carry `logprobs`."""
    tokens = [t.token for t in choice.logprobs.content]
    end = thought_end(tokens)
    if end is None:
        return None
    return "".join(tokens[end + 1:] if tokens[end] == "</think>" else tokens[end:])


def end_sequence(tokenizer) -> tuple[int, int]:
    """(length of the forced end sequence in tokens, position of `</think>` within it)."""
    end_ids = tokenizer.encode(END_TEXT, add_special_tokens=False)
    return len(end_ids), end_ids.index(tokenizer.convert_tokens_to_ids("</think>"))
