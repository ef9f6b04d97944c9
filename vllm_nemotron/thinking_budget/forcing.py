"""Force one token per row of a logits tensor, for the whole batch at once."""

from __future__ import annotations

import torch


def force_tokens(logits: torch.Tensor, rows: list[int], tokens: list[int]) -> None:
    """Make `tokens[i]` the only possible choice of `logits[rows[i]]`, in place."""
    if not rows:
        return
    row_index = torch.tensor(rows, dtype=torch.long, device=logits.device)
    token_index = torch.tensor(tokens, dtype=torch.long, device=logits.device)
    logits[row_index] = float("-inf")
    logits[row_index, token_index] = 0.0
