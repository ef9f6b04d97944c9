"""Adapter for vLLM's Model Runner V2 (GPU builds): `add_request(slot)` + `apply(logits, ctx)`.

V2 keeps token ids on the device and reorders rows every step, so each step this adapter maps
rows to request slots through the context and copies only the tokens it has not seen yet, for
budgeted requests only, in one gather. Nothing runs when no budgeted request is in the batch.
Under speculative decoding a request has a row per draft position; each row is forced as if
the drafts before it were accepted, so vLLM's rejection sampler keeps a draft only where it
equals the forced token.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from vllm.sampling_params import SamplingParams
from vllm.v1.worker.gpu.sample.logits_processor import LogitsContext, LogitsProcRequestState

from vllm_nemotron.thinking_budget.forcing import force_budgets
from vllm_nemotron.thinking_budget.machine import ThinkingTrack
from vllm_nemotron.thinking_budget.markers import PROMPT_TAIL, LazyMarkers
from vllm_nemotron.thinking_budget.params import BudgetParams
from vllm_nemotron.thinking_budget.reserve import track_params

if TYPE_CHECKING:
    from vllm.config import VllmConfig


class _Slot:
    """A budgeted request's host-side mirror of its output tokens and its state machine."""

    def __init__(self, params: BudgetParams):
        self.params = params
        self.track: ThinkingTrack | None = None  # built on the first step that samples
        self.output_ids: list[int] = []


class _Rows(NamedTuple):
    """A budgeted request's rows in this step's logits."""

    slot: int
    seq_len: int  # its sequence length at the first row
    rows: list[int]  # one per draft position under speculative decoding, else one


class _Fetched(NamedTuple):
    """What this step adds to a budgeted request's mirror."""

    slot: int
    start: int  # sequence position of new_ids[0]
    new_ids: list[int]  # ids from `start` up to the newest committed one
    drafts: list[int]  # speculative drafts being verified now
    rows: list[int]


class V2ThinkingBudget:
    def __init__(self, vllm_config: VllmConfig, req_states: LogitsProcRequestState):
        self.req_states = req_states
        self.markers = LazyMarkers(vllm_config.model_config)
        self.budgeted = np.zeros(req_states.max_num_reqs, dtype=bool)
        self.slots: dict[int, _Slot] = {}

    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        budget = track_params(sampling_params)
        self.slots.pop(req_idx, None)
        self.budgeted[req_idx] = budget is not None
        if budget is not None:
            self.slots[req_idx] = _Slot(budget)
        return budget is not None

    def _layout(self, ctx: LogitsContext, batch_pos: np.ndarray) -> list[_Rows]:
        """The rows of budgeted requests.

        One row per request, unless speculative decoding verifies drafts: then a request owns
        a row per draft position, row k seeing the committed tokens plus the first k drafts.
        """
        slots = ctx.idx_mapping_np[batch_pos].tolist()
        if ctx.expanded_idx_mapping.shape[0] == ctx.idx_mapping_np.shape[0]:
            seq_lens = ctx.seq_lens_upper_bound_np[batch_pos].tolist()  # exact without drafts
            single = zip(slots, seq_lens, batch_pos.tolist(), strict=True)
            return [_Rows(s, n, [i]) for s, n, i in single]
        rows: dict[int, list[int]] = {s: [] for s in slots}
        for row, slot in enumerate(ctx.expanded_idx_mapping.tolist()):
            if slot in rows:
                rows[slot].append(row)
        local = ctx.expanded_local_pos.tolist()
        for slot_rows in rows.values():
            slot_rows.sort(key=local.__getitem__)
        first = torch.tensor([rows[s][0] for s in slots], dtype=torch.long, device=ctx.pos.device)
        seq_lens = (ctx.pos[first] + 1).tolist()
        return [_Rows(s, n, rows[s]) for s, n in zip(slots, seq_lens, strict=True)]

    def _fetch(self, ctx: LogitsContext, batch_pos: np.ndarray) -> list[_Fetched]:
        """What budgeted requests that sample now add to their mirrors.

        The ids start at the first position this adapter has not mirrored yet (the prompt tail
        for a new request); the newest committed one and the drafts are read from this step's
        input ids, the rest in one gather from the request-state tensor.
        """
        prompt_len = self.req_states.prompt_len.np
        prefill_len = self.req_states.prefill_len.np
        wanted: list[tuple[int, int, int, list[int]]] = []  # slot, start, count, rows
        slot_index: list[int] = []
        pos_index: list[int] = []
        input_rows: list[int] = []
        for slot, seq_len, rows in self._layout(ctx, batch_pos):
            if seq_len < prefill_len[slot]:
                continue  # a chunk of prefill: nothing is sampled
            state = self.slots[slot]
            if state.track is None:
                start = max(0, int(prompt_len[slot]) - PROMPT_TAIL)
            else:
                del state.output_ids[max(0, seq_len - 1 - int(prompt_len[slot])):]
                start = int(prompt_len[slot]) + len(state.output_ids)
            wanted.append((slot, start, seq_len - 1 - start, rows))
            slot_index += [slot] * (seq_len - 1 - start)
            pos_index += range(start, seq_len - 1)
            input_rows += rows
        if not wanted:
            return []
        device = ctx.input_ids.device
        committed = self.req_states.all_token_ids.gpu[
            torch.tensor(slot_index, dtype=torch.long, device=device),
            torch.tensor(pos_index, dtype=torch.long, device=device)]
        rows_index = torch.tensor(input_rows, dtype=torch.long, device=device)
        values: list[int] = torch.cat(
            [committed.to(torch.long), ctx.input_ids[rows_index].to(torch.long)]).tolist()
        result, offset, fed = [], 0, len(pos_index)
        for slot, start, count, rows in wanted:
            inputs = values[fed:fed + len(rows)]  # the newest committed id, then the drafts
            result.append(_Fetched(slot, start, values[offset:offset + count] + inputs[:1],
                                   inputs[1:], rows))
            offset += count
            fed += len(rows)
        return result

    def apply(self, logits: torch.Tensor, ctx: LogitsContext) -> torch.Tensor:
        batch_pos = np.flatnonzero(self.budgeted[ctx.idx_mapping_np])
        if batch_pos.size == 0:
            return logits  # nothing budgeted: no work at all
        fetched = self._fetch(ctx, batch_pos)
        force_budgets(logits, self._asks(fetched))
        # A closed thought stays closed: stop mirroring the request, so it costs nothing more
        # (every thinking request has a track, for its answer reserve).
        for item in fetched:
            track = self.slots[item.slot].track
            if track is not None and track.closed:
                self.budgeted[item.slot] = False
                del self.slots[item.slot]
        return logits

    def _asks(self, fetched: list[_Fetched]) -> Iterator[tuple[int, ThinkingTrack, Sequence[int]]]:
        """(row, track, output ids) per row; row k asks about the output after the k-th draft."""
        for item in fetched:
            state = self.slots[item.slot]
            if state.track is None:
                tail_len = int(self.req_states.prompt_len.np[item.slot]) - item.start
                prompt_tail, state.output_ids = item.new_ids[:tail_len], item.new_ids[tail_len:]
                state.track = ThinkingTrack.for_prompt(self.markers.get(), state.params,
                                                       prompt_tail)
            else:
                state.output_ids += item.new_ids
            # A fork for every draft row, so rejected drafts leave the request's state untouched.
            for k, row in enumerate(item.rows):
                track = state.track if k == 0 else state.track.fork()
                yield row, track, state.output_ids + item.drafts[:k]
