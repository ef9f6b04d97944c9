"""What vLLM's model runners do with the processor, as far as a plugin can tell in advance.

Model classes call `warn_if_dropped` at load time; the V1 adapter asks `sees_placeholders`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vllm.logger import init_logger

if TYPE_CHECKING:
    from vllm.config import VllmConfig

logger = init_logger(__name__)

FQCN = "vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor"


def sees_placeholders(vllm_config: VllmConfig) -> bool:
    """True when the V1 runner will hide sampled ids behind -1 placeholders (vLLM issue 38199).

    Under async scheduling vLLM repairs the output lists only when a processor was named with
    `--logits-processors`; one loaded from the entry point alone sees `-1` for every token.
    """
    if not vllm_config.scheduler_config.async_scheduling:
        return False
    named = vllm_config.model_config.logits_processors or ()
    return not any(p == FQCN or getattr(p, "__name__", None) == "ThinkingBudgetLogitsProcessor"
                   for p in named)


def warn_if_dropped(vllm_config: VllmConfig) -> None:
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
        "vllm_xargs.thinking_budget are served without a budget, and no thought is closed "
        "to leave its answer reserve. Use Model Runner V2 (the default on GPU builds) or "
        "serve without --speculative-config.")
