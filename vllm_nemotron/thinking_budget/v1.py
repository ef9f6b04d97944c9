"""Adapter for vLLM's V1 model runner (the CPU build): `update_state(BatchUpdate)` + `apply(logits)`.

The V1 runner hands each added request a live reference to its output token list, so the state
machine reads the tokens directly; rows are batch indices, kept in step by vLLM's own
`process_dict_updates`.
"""

from __future__ import annotations

import torch

from vllm.logger import init_logger
from vllm.sampling_params import SamplingParams
from vllm.v1.sample.logits_processor.builtin import process_dict_updates
from vllm.v1.sample.logits_processor.interface import BatchUpdate

from vllm_nemotron.thinking_budget.forcing import force_tokens
from vllm_nemotron.thinking_budget.machine import ThinkingTrack
from vllm_nemotron.thinking_budget.markers import PROMPT_TAIL, prompt_opens_thinking
from vllm_nemotron.thinking_budget.params import budget_params
from vllm_nemotron.thinking_budget.tokenizer_markers import LazyMarkers

logger = init_logger(__name__)

FQCN = "vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor"


def sees_placeholders(vllm_config) -> bool:
    """True when the V1 runner will hide sampled ids behind -1 placeholders (vLLM issue 38199).

    Under async scheduling vLLM repairs the output lists only when a processor was named with
    `--logits-processors`; one loaded from the entry point alone sees `-1` for every token.
    """
    if not vllm_config.scheduler_config.async_scheduling:
        return False
    named = vllm_config.model_config.logits_processors or ()
    return not any(p == FQCN or getattr(p, "__name__", None) == "ThinkingBudgetLogitsProcessor"
                   for p in named)


def warn_if_dropped(vllm_config) -> None:
    """Say at load time that this server will serve `thinking_budget` requests without a budget.

    Under speculative decoding vLLM's V1 runner builds no entry-point logits processor and tells
    no plugin so, while the API server still accepts the parameter (its `validate_params` sees no
    config). Our model classes are the one piece of the plugin handed the engine's config then,
    so they call this. Model Runner V2 keeps the processor under speculative decoding.
    """
    if vllm_config.speculative_config is None or vllm_config.use_v2_model_runner:
        return
    logger.warning_once(
        "thinking_budget is NOT enforced on this server: with speculative decoding, vLLM's V1 "
        "model runner loads no logits-processor plugin, so requests with "
        "vllm_xargs.thinking_budget are served without a budget. Use Model Runner V2 (the "
        "default on GPU builds) or serve without --speculative-config.")


class V1ThinkingBudget:
    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        self.markers = LazyMarkers(vllm_config.model_config)
        self.tracks: dict[int, tuple[ThinkingTrack, list[int]]] = {}
        self.count_only = sees_placeholders(vllm_config)
        self.warned = False

    def _new_track(self, params: SamplingParams, prompt_ids: list[int] | None,
                   output_ids: list[int]) -> tuple[ThinkingTrack, list[int]] | None:
        budget = budget_params(params)
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
        markers = self.markers.get()
        opened = prompt_opens_thinking(markers, (prompt_ids or [])[-PROMPT_TAIL:])
        return ThinkingTrack(markers, budget, opened), output_ids

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.tracks, batch_update, self._new_track)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.tracks:
            return logits
        rows, tokens = [], []
        for row, (track, output_ids) in self.tracks.items():
            token = track.forced_token(output_ids)
            if token is not None:
                rows.append(row)
                tokens.append(token)
        force_tokens(logits, rows, tokens)
        return logits
