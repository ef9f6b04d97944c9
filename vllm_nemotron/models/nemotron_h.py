"""Nemotron-H (`NemotronHForCausalLM`): the Mamba2 + attention + MLP hybrid.

Subclasses vLLM's in-tree class, whose layers are right, and fixes what it gets wrong:
the MLP activation is hard-coded to relu2 instead of read from `mlp_hidden_act`,
`tie_word_embeddings` is ignored, and an `n_groups` that the TP size cannot split fails
deep inside the Mamba mixer. The class keeps the architecture name, so vLLM's
per-architecture config hook (float32 Mamba SSM cache unless the user sets
`--mamba-ssm-cache-dtype`) still applies.
"""

from transformers import PretrainedConfig
from vllm.config import VllmConfig
from vllm.model_executor.layers.activation import get_act_fn
from vllm.model_executor.models import nemotron_h as in_tree

from vllm_nemotron.thinking_budget import warn_if_dropped


def check_tensor_parallel(config: PretrainedConfig, tp_size: int) -> None:
    """Refuse at load, naming the field, what the Mamba2 mixer cannot shard."""
    if "M" not in config.hybrid_override_pattern:
        return
    if config.mamba_num_heads % tp_size:
        raise ValueError(
            f"mamba_num_heads={config.mamba_num_heads} is not divisible by "
            f"tensor_parallel_size={tp_size}"
        )
    if config.n_groups % tp_size and config.n_groups != 1:
        raise ValueError(
            f"n_groups={config.n_groups} is not divisible by tensor_parallel_size={tp_size} "
            "(the Mamba2 mixer shards whole groups, or replicates a single group)"
        )


class NemotronHForCausalLM(in_tree.NemotronHForCausalLM):
    def __init__(self, *, vllm_config: VllmConfig, prefix: str = ""):
        config = vllm_config.model_config.hf_config
        check_tensor_parallel(config, vllm_config.parallel_config.tensor_parallel_size)
        warn_if_dropped(vllm_config)
        super().__init__(vllm_config=vllm_config, prefix=prefix)
        # In-tree builds every MLP with relu2; the activation is the config's to choose.
        act_name = getattr(config, "mlp_hidden_act", "relu2")
        for module in self.modules():
            if isinstance(module, in_tree.NemotronHMLP):
                module.act_fn = get_act_fn(act_name)
        if getattr(config, "tie_word_embeddings", False):
            self.lm_head = self.lm_head.tie_weights(self.model.embed_tokens)
