"""The entry-point class: one name that both of vLLM's logits-processor loaders accept.

Model Runner V2 (GPU builds) only loads subclasses of its `LogitsProcessor` and constructs them as
`(vllm_config, req_states)`; the V1 runner (the CPU build) checks `--logits-processors` classes
against the V1 `LogitsProcessor` and constructs them as `(vllm_config, device, is_pin_memory)`.
This class subclasses both and picks the matching adapter from the constructor arguments.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import torch
from vllm.sampling_params import SamplingParams
from vllm.v1.sample.logits_processor.interface import BatchUpdate
from vllm.v1.sample.logits_processor.interface import LogitsProcessor as V1LogitsProcessor
from vllm.v1.worker.gpu.sample.logits_processor import LogitsContext
from vllm.v1.worker.gpu.sample.logits_processor import LogitsProcessor as V2LogitsProcessor

from vllm_nemotron import disabled
from vllm_nemotron.thinking_budget.reserve import track_params

if TYPE_CHECKING:
    from vllm.config import VllmConfig

    from vllm_nemotron.thinking_budget.v1 import V1ThinkingBudget
    from vllm_nemotron.thinking_budget.v2 import V2ThinkingBudget


# id(engine config) -> the newest instance built for it, the one that enforces budgets. With the
# plugin installed, naming the class in `--logits-processors` as well makes vLLM build it twice
# for one engine (entry points + names, not deduplicated); the older copy stands by, so each
# budget costs one pass. Newest rather than first, so a runner that rebuilt its processors
# would be served by the new set.
_NEWEST: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class ThinkingBudgetLogitsProcessor(V2LogitsProcessor, V1LogitsProcessor):
    """Per-request cap on reasoning tokens: `vllm_xargs={"thinking_budget": N}`.

    After N reasoning tokens (plus up to `thinking_budget_grace` tokens to finish the line) it
    forces "\\n</think>\\n\\n" token by token. Every thinking request is also closed in time to
    leave its answer reserve before `max_tokens` (reserve.py); other requests are untouched.
    """

    def __init__(self, vllm_config: VllmConfig, *runner_args: Any):
        self.vllm_config = vllm_config
        _NEWEST[id(vllm_config)] = self
        self.v1: V1ThinkingBudget | None = None
        self.v2: V2ThinkingBudget | None = None
        self.off = disabled()  # VLLM_NEMOTRON_DISABLE: no adapter, every request untouched
        if not self.off and len(runner_args) == 1:  # V2: (vllm_config, req_states)
            from vllm_nemotron.thinking_budget.v2 import V2ThinkingBudget
            self.v2 = V2ThinkingBudget(vllm_config, *runner_args)
        elif not self.off:  # V1: (vllm_config, device, is_pin_memory)
            from vllm_nemotron.thinking_budget.v1 import V1ThinkingBudget
            self.v1 = V1ThinkingBudget(vllm_config, *runner_args)

    def _enforcing(self) -> bool:
        return not self.off and _NEWEST.get(id(self.vllm_config)) is self

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        if not disabled():
            track_params(sampling_params)

    # V1 interface
    def is_argmax_invariant(self) -> bool:
        return self.off  # forcing changes the greedy choice; switched off, it forces nothing

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if self.v1 is not None and self._enforcing():
            self.v1.update_state(batch_update)

    # V2 interface
    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        return self.v2 is not None and self._enforcing() \
            and self.v2.add_request(req_idx, sampling_params)

    # both: V1 calls apply(logits), V2 calls apply(logits, ctx)
    def apply(self, logits: torch.Tensor, ctx: LogitsContext | None = None) -> torch.Tensor:
        if not self._enforcing():
            return logits
        if ctx is None:
            return logits if self.v1 is None else self.v1.apply(logits)
        return logits if self.v2 is None else self.v2.apply(logits, ctx)
