"""Adapter for vLLM's Model Runner V2 (GPU builds): `add_request(slot)` + `apply(logits, ctx)`.

V2 keeps token ids on the device and reorders rows every step, so each step this adapter maps
rows to request slots through the context and copies only the tokens it has not seen yet, for
budgeted requests only, in one gather. Nothing runs when no budgeted request is in the batch.
"""

from __future__ import annotations

import numpy as np
import torch

from vllm.logger import init_logger
from vllm.sampling_params import SamplingParams
from vllm.v1.worker.gpu.sample.logits_processor import LogitsContext, LogitsProcRequestState

from vllm_nemotron.thinking_budget.forcing import force_tokens
from vllm_nemotron.thinking_budget.machine import ThinkingTrack
from vllm_nemotron.thinking_budget.markers import PROMPT_TAIL, prompt_opens_thinking
from vllm_nemotron.thinking_budget.params import BudgetParams, budget_params
from vllm_nemotron.thinking_budget.tokenizer_markers import LazyMarkers

logger = init_logger(__name__)


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
        self.speculative = vllm_config.speculative_config is not None
        self.budgeted = np.zeros(req_states.max_num_reqs, dtype=bool)
        self.slots: dict[int, _Slot] = {}

    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        budget = budget_params(sampling_params)
        if budget is not None and self.speculative:
            logger.warning("thinking_budget is not supported with speculative decoding; "
                           "ignoring it for this request")
            budget = None
        self.slots.pop(req_idx, None)
        self.budgeted[req_idx] = budget is not None
        if budget is not None:
            self.slots[req_idx] = _Slot(budget)
        return budget is not None

    def _fetch(self, ctx: LogitsContext, batch_pos: np.ndarray) -> list[tuple[int, int, int, list[int]]]:
        """(row, slot, first position, token ids up to now) for budgeted rows that sample now.

        The ids start at the first position this adapter has not mirrored yet (the prompt tail
        for a new request); the newest one is re-read every step from this step's input ids.
        """
        prompt_len = self.req_states.prompt_len.np
        prefill_len = self.req_states.prefill_len.np
        wanted, slot_index, pos_index = [], [], []
        for i in batch_pos.tolist():
            slot = int(ctx.idx_mapping_np[i])
            seq_len = int(ctx.seq_lens_upper_bound_np[i])
            if seq_len < prefill_len[slot]:
                continue  # a chunk of prefill: nothing is sampled
            state = self.slots[slot]
            if state.track is None:
                start = max(0, int(prompt_len[slot]) - PROMPT_TAIL)
            else:
                del state.output_ids[max(0, seq_len - 1 - int(prompt_len[slot])):]
                start = int(prompt_len[slot]) + len(state.output_ids)
            wanted.append((i, slot, start, seq_len - 1 - start))
            slot_index += [slot] * (seq_len - 1 - start)
            pos_index += range(start, seq_len - 1)
        if not wanted:
            return []
        device = ctx.input_ids.device
        committed = self.req_states.all_token_ids.gpu[
            torch.tensor(slot_index, dtype=torch.long, device=device),
            torch.tensor(pos_index, dtype=torch.long, device=device)]
        rows = torch.tensor([w[0] for w in wanted], dtype=torch.long, device=device)
        values = torch.cat([committed.to(torch.long), ctx.input_ids[rows].to(torch.long)]).tolist()
        result, offset = [], 0
        for k, (row, slot, start, count) in enumerate(wanted):
            newest = values[len(pos_index) + k]
            result.append((row, slot, start, values[offset:offset + count] + [newest]))
            offset += count
        return result

    def apply(self, logits: torch.Tensor, ctx: LogitsContext) -> torch.Tensor:
        batch_pos = np.flatnonzero(self.budgeted[ctx.idx_mapping_np])
        if batch_pos.size == 0 or logits.shape[0] != ctx.idx_mapping_np.shape[0]:
            return logits  # nothing budgeted (or spec-decode rows, refused in add_request)
        rows, tokens = [], []
        for row, slot, start, new_ids in self._fetch(ctx, batch_pos):
            state = self.slots[slot]
            if state.track is None:
                tail_len = int(self.req_states.prompt_len.np[slot]) - start
                prompt_tail, state.output_ids = new_ids[:tail_len], new_ids[tail_len:]
                markers = self.markers.get()
                opened = prompt_opens_thinking(markers, prompt_tail)
                state.track = ThinkingTrack(markers, state.params, opened)
            else:
                state.output_ids += new_ids
            token = state.track.forced_token(state.output_ids)
            if token is not None:
                rows.append(row)
                tokens.append(token)
        force_tokens(logits, rows, tokens)
        return logits
