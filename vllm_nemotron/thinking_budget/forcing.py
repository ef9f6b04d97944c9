"""Ask each budgeted row's track for its next token, then force them all in one batched write."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from vllm_nemotron.thinking_budget.machine import ThinkingTrack


def force_tokens(logits: torch.Tensor, rows: list[int], tokens: list[int]) -> None:
    """Make `tokens[i]` the only possible choice of `logits[rows[i]]`, in place."""
    if not rows:
        return
    row_index = torch.tensor(rows, dtype=torch.long, device=logits.device)
    token_index = torch.tensor(tokens, dtype=torch.long, device=logits.device)
    logits[row_index] = float("-inf")
    logits[row_index, token_index] = 0.0


def force_budgets(logits: torch.Tensor,
                  asks: Iterable[tuple[int, ThinkingTrack, Sequence[int]]]) -> torch.Tensor:
    """For each (row, track, output ids so far): force the row to the track's token, if any."""
    rows, tokens = [], []
    for row, track, output_ids in asks:
        token = track.forced_token(output_ids)
        if token is not None:
            rows.append(row)
            tokens.append(token)
    force_tokens(logits, rows, tokens)
    return logits
