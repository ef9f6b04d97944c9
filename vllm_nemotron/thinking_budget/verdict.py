"""Who closed a finished request's thought: the model, or the server (its budget or its answer
reserve). The reply says so (reply.py); this module decides it.

The processor runs in the engine, and vLLM gives a logits processor no way to attach data to a
request's output. But its decision is a pure function of what the API server also has
(machine.py: the sampling params, whether the prompt left thinking open, the output token ids),
so the API server replays it over the finished output. The replay is checked against the output:
every token it says was forced must be the one the output holds there. Where the processor did
not run (speculative decoding on the V1 runner, a server without it) or saw other tokens (async
scheduling's placeholders), the output differs and no closing is claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from vllm.sampling_params import SamplingParams

from vllm_nemotron.thinking_budget.machine import ThinkingTrack
from vllm_nemotron.thinking_budget.markers import PROMPT_TAIL, ThinkingMarkers
from vllm_nemotron.thinking_budget.params import BudgetParams
from vllm_nemotron.thinking_budget.reserve import track_params

ClosedBy = Literal["thinking_budget", "answer_reserve"]


class _Prefix(Sequence[int]):
    """The first `n` tokens of `ids`, without copying them (the replay asks at every length)."""

    def __init__(self, ids: Sequence[int], n: int):
        self.ids, self.n = ids, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self.ids[i] for i in range(*index.indices(self.n))]
        if not -self.n <= index < self.n:
            raise IndexError(index)
        return self.ids[index % self.n]


def closed_by(track: ThinkingTrack, output_ids: Sequence[int]) -> ClosedBy | None:
    """Replay `track` (fresh) over a finished output: who closed its thought, or None when the
    model did, it never thought, or the output does not hold what the server would have forced
    (it was cut by the token limit while closing, or no processor ran)."""
    track.logged = True  # the engine's track already said it in the log
    forced_any = False
    for n in range(len(output_ids) + 1):
        token = track.forced_token(_Prefix(output_ids, n))
        if token is None:
            if track.closed:
                break
            continue
        if n == len(output_ids) or output_ids[n] != token:
            return None
        forced_any = True
    if not (forced_any and track.closed):
        return None
    return "answer_reserve" if track.by_reserve else "thinking_budget"


def request_closed_by(params: SamplingParams, markers: ThinkingMarkers,
                      prompt_ids: Sequence[int] | None,
                      output_ids: Sequence[int]) -> ClosedBy | None:
    """`closed_by` for a request as the processor saw it (None when it budgets nothing); for
    offline outputs (docs/answer-reserve.md), where no reply hook runs."""
    budget = track_params(params)
    return None if budget is None else budget_closed_by(budget, markers, prompt_ids, output_ids)


def budget_closed_by(budget: BudgetParams, markers: ThinkingMarkers,
                     prompt_ids: Sequence[int] | None,
                     output_ids: Sequence[int]) -> ClosedBy | None:
    """`request_closed_by` with the request's budget already read (`track_params`)."""
    prompt_tail = list(prompt_ids or [])[-PROMPT_TAIL:]
    return closed_by(ThinkingTrack.for_prompt(markers, budget, prompt_tail), output_ids)
