"""Nemotron-H (`NemotronHForCausalLM`, `NemotronHPuzzleForCausalLM`): the Mamba2 + attention +
MLP/MoE hybrid, dense (Nemotron-H, Nano-9B-v2, Nemotron-3-Nano-4B) and MoE (Nemotron-3 Nano-30B,
Super-120B with latent MoE and an MTP layer).

Subclasses vLLM's in-tree class, whose layers are right, and fixes what it gets wrong:
the MLP activation is hard-coded to relu2 instead of read from `mlp_hidden_act` (this also
holds for a MoE layer's shared experts, which transformers builds with `mlp_hidden_act` too),
`tie_word_embeddings` is ignored, and an `n_groups` that the TP size cannot split fails deep
inside the Mamba mixer. On checkpoints with relu2 and untied embeddings (every published MoE
checkpoint) the model is in-tree's, module for module: routed experts, router, latent
projections, weight loading and the MTP draft (`NemotronHMTPModel`, in-tree's class) are not
touched. The class keeps the architecture names, so vLLM's per-architecture config hook
(float32 Mamba SSM cache unless the user sets `--mamba-ssm-cache-dtype`) still applies.
"""

from __future__ import annotations

from transformers import PretrainedConfig
from vllm.config import VllmConfig
from vllm.model_executor.layers.activation import get_act_fn
from vllm.model_executor.models import nemotron_h as in_tree

from vllm_nemotron.thinking_budget import warn_if_dropped

IN_TREE_MLP_ACTIVATION = "relu2"  # what in-tree gives every NemotronHMLP


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


def mlp_activation_fixes(config: PretrainedConfig) -> dict[int, str]:
    """Layer index -> the activation its MLPs (an `-` layer's, or an `E` layer's shared
    experts) need, for each layer where in-tree's relu2 is wrong.

    Puzzle checkpoints configure each layer (`get_nemotron_h_config_for_layer`); in-tree reads
    the routed experts' activation from that per-layer config, and so do we for the MLPs.
    """
    per_layer = getattr(config, "get_nemotron_h_config_for_layer", None)
    fixes = {}
    for idx, kind in enumerate(config.hybrid_override_pattern):
        if kind not in "-E":
            continue
        layer_config = per_layer(idx) if per_layer else config
        act = getattr(layer_config, "mlp_hidden_act", IN_TREE_MLP_ACTIVATION)
        if act != IN_TREE_MLP_ACTIVATION:
            fixes[idx] = act
    return fixes


class NemotronHForCausalLM(in_tree.NemotronHForCausalLM):
    def __init__(self, *, vllm_config: VllmConfig, prefix: str = ""):
        config = vllm_config.model_config.hf_config
        check_tensor_parallel(config, vllm_config.parallel_config.tensor_parallel_size)
        warn_if_dropped(vllm_config)
        super().__init__(vllm_config=vllm_config, prefix=prefix)
        for idx, act in mlp_activation_fixes(config).items():
            # Layers of other pipeline stages are PPMissingLayer: no MLP to fix there.
            for module in self.model.layers[idx].modules():
                if isinstance(module, in_tree.NemotronHMLP):
                    module.act_fn = get_act_fn(act)
        # vLLM sets this False when the checkpoint ships its own lm_head (and re-ties it
        # after loading if the two are equal); True here means there is no lm_head to load.
        if getattr(config, "tie_word_embeddings", False):
            self.lm_head = self.lm_head.tie_weights(self.model.embed_tokens)
