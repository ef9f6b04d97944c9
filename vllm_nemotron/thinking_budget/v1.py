"""Adapter for vLLM's V1 model runner (the CPU build): `update_state(BatchUpdate)` and
`apply(logits)`.

The V1 runner hands each added request a live reference to its output token list, so the state
machine reads the tokens directly; rows are batch indices, kept in step by vLLM's own
`process_dict_updates`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from vllm.logger import init_logger
from vllm.sampling_params import SamplingParams
from vllm.v1.sample.logits_processor.builtin import process_dict_updates
from vllm.v1.sample.logits_processor.interface import BatchUpdate

from vllm_nemotron.thinking_budget.forcing import force_budgets
from vllm_nemotron.thinking_budget.machine import ThinkingTrack
from vllm_nemotron.thinking_budget.markers import PROMPT_TAIL, LazyMarkers
from vllm_nemotron.thinking_budget.reserve import track_params
from vllm_nemotron.thinking_budget.runners import FQCN, sees_placeholders

if TYPE_CHECKING:
    from vllm.config import VllmConfig

logger = init_logger(__name__)


class V1ThinkingBudget:
    def __init__(self, vllm_config: VllmConfig, device: torch.device, is_pin_memory: bool):
        self.markers = LazyMarkers(vllm_config.model_config)
        self.tracks: dict[int, tuple[ThinkingTrack, list[int]]] = {}
        self.count_only = sees_placeholders(vllm_config)
        self.warned = False

    def _new_track(self, params: SamplingParams, prompt_ids: list[int] | None,
                   output_ids: list[int]) -> tuple[ThinkingTrack, list[int]] | None:
        budget = track_params(params)
        if self.count_only and budget is not None and budget.reserve:
            # Blind to the model's own `</think>`, the reserve would force a second one into
            # every answer: only a budget the request asked for is enforced here.
            budget = None if budget.budget is None else replace(budget, reserve=0)
        if budget is None:
            return None
        if self.count_only and not self.warned:
            self.warned = True
            logger.warning(
                "thinking_budget: with async scheduling, an entry-point logits processor on the "
                "V1 model runner sees -1 instead of sampled tokens (vLLM issue 38199), so budgets "
                "are enforced by token count only (no grace, no detection of the model's own "
                "<think>/</think>). Serve with --no-async-scheduling or add "
                "--logits-processors %s for exact behaviour.", FQCN)
        if self.count_only and budget.structured:
            # Blind to the model's own `</think>`, the track could force it again inside the
            # answer, which the grammar would reject (a failed request): leave it unbudgeted.
            logger.warning_once("thinking_budget: not enforced for structured-output requests "
                                "while the processor sees -1 placeholders (see above)")
            return None
        track = ThinkingTrack.for_prompt(self.markers.get(), budget,
                                         (prompt_ids or [])[-PROMPT_TAIL:])
        return track, output_ids

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.tracks, batch_update, self._new_track)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.tracks:
            return logits
        force_budgets(logits, ((row, track, output_ids)
                               for row, (track, output_ids) in self.tracks.items()))
        # A closed thought stays closed (a preempted request comes back as a new one): drop its
        # track, so a request costs nothing once its thinking is over.
        for row in [row for row, (track, _) in self.tracks.items() if track.closed]:
            del self.tracks[row]
        return logits
