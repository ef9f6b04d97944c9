"""The thinking-budget state machine for one request, shared by both runner adapters.

Everything is derived from the request's output token ids (plus whether the prompt ended inside
`<think>`), so preemption, recomputation or a re-added request cannot make it drift. Phases:

    not thinking -> thinking (free for `budget` tokens) -> grace (until a line/sentence ends, at
    most `grace` tokens) -> forcing the end sequence token by token -> closed (no-op)

`budget` and `grace` are decided where thinking begins: the request's own, or the answer
reserve's landing when that is earlier (reserve.py: the thought must leave room for the answer
before `max_tokens`).

Without `<think>` left open by the prompt, only an output that opens with `<think>` thinks. The
model closes thinking itself with `</think>` or by opening a tool call. The end sequence is
"\n</think>\n\n", or only "\n</think>" when a grammar constrains the answer: the grammar owns
every token after `</think>`, and vLLM terminates a request whose token it rejects.

The scan caches below only remember what earlier, unchanged output positions contained; they are
an optimisation of the pure definition (checked against it in the tests), so each step costs
O(new tokens), not O(output length).

Unknown tokens: under async scheduling the V1 runner may hand over `-1` placeholders instead of
the sampled ids (vLLM issue 38199). A placeholder never matches a tag or a line end; one at a
position this machine forced is read as the forced token. Trailing placeholders may still be
repaired, so they are not cached until more tokens follow them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from vllm.logger import init_logger

from vllm_nemotron.thinking_budget.markers import ThinkingMarkers, ends_with, prompt_thinking
from vllm_nemotron.thinking_budget.params import BudgetParams
from vllm_nemotron.thinking_budget.reserve import Landing, landing, thought_cap

logger = init_logger(__name__)

UNKNOWN = -1


class ThinkingTrack:
    """Budget state of one request; `forced_token(output_ids)` is the whole interface."""

    def __init__(self, markers: ThinkingMarkers, params: BudgetParams, opened_in_prompt: bool,
                 inert: bool = False):
        self.markers = markers
        self.params = params
        self.opened_in_prompt = opened_in_prompt
        self.inert = inert  # forces nothing, ever (see `for_prompt`)
        self.end_sequence = markers.closing_sequence if params.structured else markers.end_sequence
        self.closers = (markers.close, *markers.tool_starts)  # how the model itself closes
        self.pattern_ends = frozenset(p[-1] for p in (self.end_sequence, *self.closers) if p)
        self.longest = max(len(markers.start), len(self.end_sequence), *map(len, self.closers))
        self.forced: dict[int, int] = {}  # position -> token this track forced there
        self.logged = False
        self._reset()

    @classmethod
    def for_prompt(cls, markers: ThinkingMarkers, params: BudgetParams,
                   prompt_tail: Sequence[int]) -> ThinkingTrack:
        """The track of a request whose prompt ends with `prompt_tail` (PROMPT_TAIL tokens).
        A grammar request whose prompt closed its thought (`enable_thinking` 0, a `<think></think>`
        prefill) gets an inert track: the reasoning parser tells vLLM the prompt ended the
        reasoning, so the grammar owns every output token, a `<think>` it allows included."""
        state = prompt_thinking(markers, prompt_tail)
        return cls(markers, params, state is True, inert=state is False and params.structured)

    def fork(self) -> ThinkingTrack:
        """An independent copy, to ask about a continuation that may be thrown away."""
        twin = copy.copy(self)
        twin.forced = dict(self.forced)
        twin.logged = True  # the request's own track says it, once
        return twin

    def _reset(self) -> None:
        self.think_start: int | None = None
        self.closed = self.inert
        if self.opened_in_prompt:
            self._open(0)
        self.grace_end: int | None = None  # first forced position, once a line end decided it
        self.scanned = 0  # output positions [0, scanned) are folded into the state above

    def _open(self, think_start: int) -> None:
        """Thinking began at output position `think_start`: decide where it lands, from the
        request's own budget and the answer reserve's cap (reserve.py)."""
        self.think_start = think_start
        p = self.params
        cap = None if p.max_tokens is None or not p.reserve else thought_cap(
            p.max_tokens, p.reserve, len(self.end_sequence), think_start)
        land = landing(p.budget, p.grace, cap)
        if land is None:  # nothing to enforce (track_params never builds such a track)
            self.closed = True
            land = Landing(0, 0, False)
        self.budget, self.grace, self.by_reserve = land

    def _token(self, output_ids: Sequence[int], pos: int) -> int:
        token = output_ids[pos]
        return self.forced.get(pos, UNKNOWN) if token == UNKNOWN else token

    def _window(self, output_ids: Sequence[int], end: int, size: int) -> list[int]:
        return [self._token(output_ids, p) for p in range(max(0, end - size), end)]

    def _scan(self, output_ids: Sequence[int]) -> None:
        known = len(output_ids)
        while known > self.scanned and output_ids[known - 1] == UNKNOWN \
                and (known - 1) not in self.forced:
            known -= 1  # may still be repaired
        m, longest = self.markers, self.longest
        for pos in range(self.scanned, known):
            if self.closed:
                break
            end = pos + 1
            if self.think_start is None:
                # Only an output that opens with `<think>` thinks (as the reasoning parsers read
                # it); a `<think>` later on is text, e.g. inside a JSON answer's string.
                if end < len(m.start):
                    continue
                if ends_with(self._window(output_ids, end, len(m.start)), len(m.start), m.start):
                    self._open(end)
                    if self.closed:
                        break
                    continue
                self.closed = True  # it never opened: nothing to budget
                break
            token = self._token(output_ids, pos)
            # The model's own `</think>` or tool-call opener closes thinking; once forcing began,
            # only the whole end sequence does (its `</think>` is ours). Only a token that ends
            # one of them can (most tokens do not: their window is never built).
            if token in self.pattern_ends:
                window = self._window(output_ids, end, min(longest, end - self.think_start))
                if ends_with(window, len(window), self.end_sequence) or (
                        pos < self._force_from()
                        and any(ends_with(window, len(window), c) for c in self.closers)):
                    self.closed = True
                    break
            budget_end = self.think_start + self.budget
            if (self.grace_end is None and self.budget > 0
                    and budget_end - 1 <= pos < budget_end + self.grace
                    and token in m.boundaries):
                self.grace_end = end
        self.scanned = known

    def _force_from(self) -> int:
        """First output position of the forced end sequence (thinking must be open)."""
        assert self.think_start is not None
        if self.budget == 0:
            return self.think_start
        if self.grace_end is not None:
            return self.grace_end
        return self.think_start + self.budget + self.grace

    def forced_token(self, output_ids: Sequence[int]) -> int | None:
        """The token the next position must be, or None to let the model choose."""
        if len(output_ids) < self.scanned:  # tokens were discarded: derive again
            self._reset()
            self.forced.clear()
        self._scan(output_ids)
        if self.think_start is None or self.closed:
            return None
        n = len(output_ids)
        if n < self._force_from():
            return None
        # Continue the end sequence after however much of it the output already ends with.
        end_seq = self.end_sequence
        tail = self._window(output_ids, n, min(len(end_seq) - 1, n - self.think_start))
        done = next(k for k in range(len(tail), -1, -1)
                    if tuple(tail[len(tail) - k:]) == end_seq[:k])
        token = end_seq[done]
        if not self.logged:
            self.logged = True
            logger.debug("thinking budget: closing a thought after %d tokens, by %s "
                         "(budget %d, grace %d, max_tokens %s, answer reserve %d)",
                         n - self.think_start, "the answer reserve" if self.by_reserve
                         else "its budget", self.budget, self.grace, self.params.max_tokens,
                         self.params.reserve)
        self.forced[n] = token
        for old in [p for p in self.forced if p < n - len(end_seq)]:
            del self.forced[old]
        return token
