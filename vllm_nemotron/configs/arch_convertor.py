"""vLLM's architecture summary for `nemotron-nas` configs, fixed for linear-replaced attention.

vLLM 0.32 reads the KV-head count from the first block whose attention is not a no-op; when
that block's attention is `replace_with_linear` (Llama-3.1-Nemotron-51B's layout) it has no
`n_heads_in_group` and start-up dies on `heads // None`. Only blocks with real attention have
KV heads, so those are the ones to read.
"""

from __future__ import annotations

from vllm.transformers_utils.model_arch_config_convertor import (
    NemotronNasModelArchConfigConvertor,
)


class NemotronNasArchConvertor(NemotronNasModelArchConfigConvertor):
    def get_total_num_kv_heads(self) -> int:
        config = self.hf_text_config
        for block in config.block_configs:
            attention = block.attention
            if not (attention.no_op or getattr(attention, "replace_with_linear", False)):
                return config.num_attention_heads // attention.n_heads_in_group
        return super().get_total_num_kv_heads()


def register_arch_convertor(model_type: str) -> None:
    from vllm.transformers_utils import model_arch_config_convertor as convertors

    convertors.MODEL_ARCH_CONFIG_CONVERTORS[model_type] = NemotronNasArchConvertor
