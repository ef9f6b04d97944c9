"""Adapter for vLLM's Model Runner V2 (GPU builds): `add_request(slot)` + `apply(logits, ctx)`.

V2 keeps token ids on the device and reorders rows every step, so each step this adapter maps
rows to request slots through the context and copies only the tokens it has not seen yet, for
budgeted requests only, in one gather. Nothing runs when no budgeted request is in the batch.
Under speculative decoding a request has a row per draft position; each row is forced as if
the drafts before it were accepted, so vLLM's rejection sampler keeps a draft only where it
equals the forced token.
"""

from __future__ import annotations

import numpy as np
import torch

from vllm.sampling_params import SamplingParams
from vllm.v1.worker.gpu.sample.logits_processor import LogitsContext, LogitsProcRequestState

from vllm_nemotron.thinking_budget.forcing import force_tokens
from vllm_nemotron.thinking_budget.machine import ThinkingTrack
from vllm_nemotron.thinking_budget.markers import PROMPT_TAIL, prompt_opens_thinking
from vllm_nemotron.thinking_budget.params import BudgetParams, budget_params
from vllm_nemotron.thinking_budget.tokenizer_markers import LazyMarkers


class _Slot:
    """A budgeted request's host-side mirror of its output tokens and its state machine."""

    def __init__(self, params: BudgetParams):
        self.params = params
        self.track: ThinkingTrack | None = None  # built on the first step that samples
        self.output_ids: list[int] = []


class V2ThinkingBudget:
    def __init__(self, vllm_config, req_states: LogitsProcRequestState):
        self.req_states = req_states
        self.markers = LazyMarkers(vllm_config.model_config)
        self.budgeted = np.zeros(req_states.max_num_reqs, dtype=bool)
        self.slots: dict[int, _Slot] = {}

    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        budget = budget_params(sampling_params)
        self.slots.pop(req_idx, None)
        self.budgeted[req_idx] = budget is not None
        if budget is not None:
            self.slots[req_idx] = _Slot(budget)
        return budget is not None

    def _layout(self, ctx: LogitsContext, batch_pos: np.ndarray) -> list[tuple[int, int, list[int]]]:
        """(slot, sequence length at its first row, its rows) for budgeted requests.

        One row per request, unless speculative decoding verifies drafts: then a request owns
        a row per draft position, row k seeing the committed tokens plus the first k drafts.
        """
        slots = ctx.idx_mapping_np[batch_pos].tolist()
        if ctx.expanded_idx_mapping.shape[0] == ctx.idx_mapping_np.shape[0]:
            seq_lens = ctx.seq_lens_upper_bound_np[batch_pos].tolist()  # exact without drafts
            return [(s, n, [i]) for s, n, i in zip(slots, seq_lens, batch_pos.tolist())]
        rows: dict[int, list[int]] = {s: [] for s in slots}
        for row, slot in enumerate(ctx.expanded_idx_mapping.tolist()):
            if slot in rows:
                rows[slot].append(row)
        local = ctx.expanded_local_pos.tolist()
        for slot_rows in rows.values():
            slot_rows.sort(key=local.__getitem__)
        first = torch.tensor([rows[s][0] for s in slots], dtype=torch.long, device=ctx.pos.device)
        seq_lens = (ctx.pos[first] + 1).tolist()
        return [(s, n, rows[s]) for s, n in zip(slots, seq_lens)]

    def _fetch(self, ctx: LogitsContext, batch_pos: np.ndarray):
        """(slot, first position, token ids up to now, draft ids, rows) for budgeted requests
        that sample now.

        The ids start at the first position this adapter has not mirrored yet (the prompt tail
        for a new request); the newest committed one and the drafts are read from this step's
        input ids, the rest in one gather from the request-state tensor.
        """
        prompt_len = self.req_states.prompt_len.np
        prefill_len = self.req_states.prefill_len.np
        wanted, slot_index, pos_index, input_rows = [], [], [], []
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
        values = torch.cat([committed.to(torch.long), ctx.input_ids[rows_index].to(torch.long)])
        values = values.tolist()
        result, offset, fed = [], 0, len(pos_index)
        for slot, start, count, rows in wanted:
            inputs = values[fed:fed + len(rows)]  # the newest committed id, then the drafts
            result.append((slot, start, values[offset:offset + count] + inputs[:1], inputs[1:],
                           rows))
            offset += count
            fed += len(rows)
        return result

    def apply(self, logits: torch.Tensor, ctx: LogitsContext) -> torch.Tensor:
        batch_pos = np.flatnonzero(self.budgeted[ctx.idx_mapping_np])
        if batch_pos.size == 0:
            return logits  # nothing budgeted: no work at all
        forced_rows, tokens = [], []
        for slot, start, new_ids, drafts, rows in self._fetch(ctx, batch_pos):
            state = self.slots[slot]
            if state.track is None:
                tail_len = int(self.req_states.prompt_len.np[slot]) - start
                prompt_tail, state.output_ids = new_ids[:tail_len], new_ids[tail_len:]
                markers = self.markers.get()
                opened = prompt_opens_thinking(markers, prompt_tail)
                state.track = ThinkingTrack(markers, state.params, opened)
            else:
                state.output_ids += new_ids
            # Row k decides the token after the k-th draft: ask a copy of the track, so that
            # rejected drafts leave the request's own state untouched.
            for k, row in enumerate(rows):
                track = state.track if k == 0 else state.track.fork()
                token = track.forced_token(state.output_ids + drafts[:k])
                if token is not None:
                    forced_rows.append(row)
                    tokens.append(token)
        force_tokens(logits, forced_rows, tokens)
        return logits
