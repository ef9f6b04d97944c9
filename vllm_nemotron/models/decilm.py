"""NVIDIA's NAS-derived Llama models (`DeciLMForCausalLM`, model_type `nemotron-nas`).

Each layer's attention and FFN are chosen separately by `block_configs`: full, skipped
(`no_op`), or a single hidden x hidden linear (`replace_with_linear`). Full attention has
its own KV-head count (`n_heads_in_group`) and optional sliding window; a full FFN has its
own width and activation. Replaces vLLM's in-tree `nemotron_nas.py`, which crashes on
linear replacements, ignores attention windows, supports only silu and mishandles the
residual when the first layer has no attention.
"""

from collections.abc import Iterable
from itertools import islice

import torch
from torch import nn
from transformers import PretrainedConfig
from vllm.compilation.decorators import support_torch_compile
from vllm.config import CacheConfig, VllmConfig
from vllm.distributed import get_pp_group, get_tensor_model_parallel_world_size
from vllm.model_executor.layers.activation import get_act_and_mul_fn, get_act_fn
from vllm.model_executor.layers.attention import Attention
from vllm.model_executor.layers.layernorm import RMSNorm
from vllm.model_executor.layers.linear import (
    MergedColumnParallelLinear,
    QKVParallelLinear,
    RowParallelLinear,
)
from vllm.model_executor.layers.logits_processor import LogitsProcessor
from vllm.model_executor.layers.quantization import QuantizationConfig
from vllm.model_executor.layers.rotary_embedding import get_rope
from vllm.model_executor.layers.vocab_parallel_embedding import (
    ParallelLMHead,
    VocabParallelEmbedding,
)
from vllm.model_executor.models.interfaces import (
    HasNoOps,
    SupportsLoRA,
    SupportsPP,
    SupportsQuant,
)
from vllm.model_executor.models.utils import (
    AutoWeightsLoader,
    PPMissingLayer,
    WeightsMapper,
    make_empty_intermediate_tensors_factory,
    make_layers,
    maybe_prefix,
)
from vllm.sequence import IntermediateTensors

from vllm_nemotron.configs.nemotron_nas import (
    AttentionBlock,
    BlockConfig,
    BlockConfigError,
    FFNBlock,
    ffn_intermediate_size,
    parse_block_configs,
)
from vllm_nemotron.thinking_budget import warn_if_dropped


def block_configs_of(config: PretrainedConfig) -> list[BlockConfig]:
    """The validated per-layer blocks, whichever config class (ours or remote) parsed them.

    Refuses what vLLM's attention cannot express rather than serving a different model:
    a sliding window becomes vLLM's per-layer sliding window, attention sinks have no
    equivalent.
    """
    blocks = parse_block_configs(
        config.block_configs,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
    )
    for i, block in enumerate(blocks):
        if block.attention.is_full and block.attention.num_sink_tokens:
            raise BlockConfigError(
                f"block_configs[{i}].attention.num_sink_tokens="
                f"{block.attention.num_sink_tokens}: attention sinks cannot be expressed "
                "with vLLM's attention; refusing to serve a different model"
            )
    return blocks


class GatedActivation(nn.Module):
    """act(gate) * up for activations that vLLM has no fused *AndMul kernel for."""

    def __init__(self, act_name: str):
        super().__init__()
        self.act = get_act_fn(act_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = x.chunk(2, dim=-1)
        return self.act(gate) * up


def gated_activation(act_name: str) -> nn.Module:
    try:
        return get_act_and_mul_fn(act_name)
    except ValueError:
        return GatedActivation(act_name)


class DeciLMAttention(nn.Module):
    """Full causal attention with this layer's KV-head count and sliding window."""

    def __init__(
        self,
        config: PretrainedConfig,
        block: AttentionBlock,
        layer_idx: int,
        cache_config: CacheConfig | None,
        quant_config: QuantizationConfig | None,
        prefix: str,
    ) -> None:
        super().__init__()
        tp_size = get_tensor_model_parallel_world_size()
        hidden_size = config.hidden_size
        total_heads = config.num_attention_heads
        total_kv_heads = total_heads // block.n_heads_in_group
        if total_heads % tp_size:
            raise ValueError(
                f"num_attention_heads={total_heads} is not divisible by "
                f"tensor_parallel_size={tp_size}"
            )
        if total_kv_heads % tp_size and tp_size % total_kv_heads:
            raise ValueError(
                f"block_configs[{layer_idx}].attention: {total_kv_heads} KV heads can be "
                f"neither split nor replicated over tensor_parallel_size={tp_size}"
            )
        self.head_dim = getattr(config, "head_dim", None) or hidden_size // total_heads
        self.num_heads = total_heads // tp_size
        self.num_kv_heads = max(1, total_kv_heads // tp_size)
        self.q_size = self.num_heads * self.head_dim
        self.kv_size = self.num_kv_heads * self.head_dim
        bias = getattr(config, "attention_bias", False)

        self.qkv_proj = QKVParallelLinear(
            hidden_size,
            self.head_dim,
            total_heads,
            total_kv_heads,
            bias=bias,
            quant_config=quant_config,
            prefix=f"{prefix}.qkv_proj",
        )
        self.o_proj = RowParallelLinear(
            total_heads * self.head_dim,
            hidden_size,
            bias=bias,
            quant_config=quant_config,
            prefix=f"{prefix}.o_proj",
        )
        is_neox_style = getattr(config, "position_embedding_type", None) not in (
            "mistral_yarn",
            "rope_llama4",
        )
        self.rotary_emb = get_rope(
            self.head_dim,
            max_position=getattr(config, "max_position_embeddings", 8192),
            rope_parameters=getattr(config, "rope_parameters", None),
            is_neox_style=is_neox_style,
        )
        self.attn = Attention(
            self.num_heads,
            self.head_dim,
            self.head_dim**-0.5,
            num_kv_heads=self.num_kv_heads,
            cache_config=cache_config,
            quant_config=quant_config,
            per_layer_sliding_window=block.window_length,
            prefix=f"{prefix}.attn",
        )

    def forward(self, positions: torch.Tensor, hidden_states: torch.Tensor) -> torch.Tensor:
        qkv, _ = self.qkv_proj(hidden_states)
        q, k, v = qkv.split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q, k = self.rotary_emb(positions, q, k)
        output, _ = self.o_proj(self.attn(q, k, v))
        return output


class DeciLMLinearAttention(nn.Module):
    """Attention replaced by one hidden x hidden linear (checkpoint key `linear_attn`)."""

    def __init__(self, hidden_size: int, quant_config: QuantizationConfig | None,
                 prefix: str) -> None:
        super().__init__()
        self.linear_attn = RowParallelLinear(
            hidden_size,
            hidden_size,
            bias=False,
            input_is_parallel=False,
            quant_config=quant_config,
            prefix=f"{prefix}.linear_attn",
        )

    def forward(self, positions: torch.Tensor, hidden_states: torch.Tensor) -> torch.Tensor:
        output, _ = self.linear_attn(hidden_states)
        return output


class DeciLMMLP(nn.Module):
    """Gated FFN: down(act(gate(x)) * up(x)), with this layer's width and activation."""

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        hidden_act: str,
        bias: bool,
        quant_config: QuantizationConfig | None,
        prefix: str,
    ) -> None:
        super().__init__()
        self.gate_up_proj = MergedColumnParallelLinear(
            hidden_size,
            [intermediate_size] * 2,
            bias=bias,
            quant_config=quant_config,
            prefix=f"{prefix}.gate_up_proj",
        )
        self.down_proj = RowParallelLinear(
            intermediate_size,
            hidden_size,
            bias=bias,
            quant_config=quant_config,
            prefix=f"{prefix}.down_proj",
        )
        self.act_fn = gated_activation(hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = self.gate_up_proj(x)
        x, _ = self.down_proj(self.act_fn(x))
        return x


class DeciLMLinearMLP(nn.Module):
    """FFN replaced by one hidden x hidden linear (checkpoint key `linear_mlp`)."""

    def __init__(self, hidden_size: int, quant_config: QuantizationConfig | None,
                 prefix: str) -> None:
        super().__init__()
        self.linear_mlp = RowParallelLinear(
            hidden_size,
            hidden_size,
            bias=False,
            input_is_parallel=False,
            quant_config=quant_config,
            prefix=f"{prefix}.linear_mlp",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = self.linear_mlp(x)
        return x


def _make_attention(config: PretrainedConfig, block: AttentionBlock, layer_idx: int,
                    cache_config: CacheConfig | None, quant_config: QuantizationConfig | None,
                    prefix: str) -> nn.Module:
    if block.replace_with_linear:
        return DeciLMLinearAttention(config.hidden_size, quant_config, prefix)
    return DeciLMAttention(config, block, layer_idx, cache_config, quant_config, prefix)


def _make_ffn(config: PretrainedConfig, block: FFNBlock, quant_config: QuantizationConfig | None,
              prefix: str) -> nn.Module:
    if block.replace_with_linear:
        return DeciLMLinearMLP(config.hidden_size, quant_config, prefix)
    return DeciLMMLP(
        config.hidden_size,
        ffn_intermediate_size(block, config.hidden_size),
        block.hidden_act or config.hidden_act,
        getattr(config, "mlp_bias", False),
        quant_config,
        prefix,
    )


class DeciLMDecoderLayer(nn.Module):
    """One pre-norm residual layer whose attention and FFN may each be absent.

    The residual stream travels as (hidden_states, residual) with the fused add-and-norm;
    `residual is None` means nothing has been added yet, which holds until the first
    sub-block that exists (a first layer may have no attention).
    """

    def __init__(
        self,
        config: PretrainedConfig,
        block: BlockConfig,
        layer_idx: int,
        cache_config: CacheConfig | None,
        quant_config: QuantizationConfig | None,
        prefix: str,
    ) -> None:
        super().__init__()
        eps = config.rms_norm_eps
        self.has_attention = not block.attention.no_op
        self.has_ffn = not block.ffn.no_op
        if self.has_attention:
            self.input_layernorm = RMSNorm(config.hidden_size, eps=eps)
            self.self_attn = _make_attention(
                config, block.attention, layer_idx, cache_config, quant_config,
                f"{prefix}.self_attn",
            )
        if self.has_ffn:
            self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=eps)
            self.mlp = _make_ffn(config, block.ffn, quant_config, f"{prefix}.mlp")

    @staticmethod
    def _norm(norm: RMSNorm, hidden_states: torch.Tensor,
              residual: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if residual is None:
            return norm(hidden_states), hidden_states
        return norm(hidden_states, residual)

    def forward(
        self,
        positions: torch.Tensor,
        hidden_states: torch.Tensor,
        residual: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.has_attention:
            hidden_states, residual = self._norm(self.input_layernorm, hidden_states, residual)
            hidden_states = self.self_attn(positions, hidden_states)
        if self.has_ffn:
            hidden_states, residual = self._norm(
                self.post_attention_layernorm, hidden_states, residual
            )
            hidden_states = self.mlp(hidden_states)
        return hidden_states, residual


@support_torch_compile
class DeciLMModel(nn.Module):
    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        config = vllm_config.model_config.hf_config
        quant_config = vllm_config.quant_config
        cache_config = vllm_config.cache_config
        self.config = config
        blocks = block_configs_of(config)
        pp = get_pp_group()

        if pp.is_first_rank or (config.tie_word_embeddings and pp.is_last_rank):
            self.embed_tokens: VocabParallelEmbedding | PPMissingLayer = VocabParallelEmbedding(
                config.vocab_size,
                config.hidden_size,
                quant_config=quant_config,
                prefix=f"{prefix}.embed_tokens",
            )
        else:
            self.embed_tokens = PPMissingLayer()

        def make_layer(prefix: str) -> DeciLMDecoderLayer:
            idx = int(prefix.rsplit(".", 1)[1])
            return DeciLMDecoderLayer(
                config, blocks[idx], idx, cache_config, quant_config, prefix
            )

        self.start_layer, self.end_layer, self.layers = make_layers(
            config.num_hidden_layers, make_layer, prefix=f"{prefix}.layers"
        )
        if pp.is_last_rank:
            self.norm: RMSNorm | PPMissingLayer = RMSNorm(
                config.hidden_size, eps=config.rms_norm_eps)
        else:
            self.norm = PPMissingLayer()
        self.make_empty_intermediate_tensors = make_empty_intermediate_tensors_factory(
            ["hidden_states", "residual"], config.hidden_size
        )

    def embed_input_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embed_tokens(input_ids)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        positions: torch.Tensor,
        intermediate_tensors: IntermediateTensors | None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor | IntermediateTensors:
        if get_pp_group().is_first_rank:
            if inputs_embeds is not None:
                hidden_states = inputs_embeds
            else:
                assert input_ids is not None, "the first stage needs input ids or embeddings"
                hidden_states = self.embed_input_ids(input_ids)
            residual = None
        else:
            assert intermediate_tensors is not None
            hidden_states = intermediate_tensors["hidden_states"]
            residual = intermediate_tensors["residual"]

        for layer in islice(self.layers, self.start_layer, self.end_layer):
            hidden_states, residual = layer(positions, hidden_states, residual)

        if residual is None:
            # Every layer so far was a no-op: the stream is the input itself.
            residual = torch.zeros_like(hidden_states)
        if not get_pp_group().is_last_rank:
            return IntermediateTensors({"hidden_states": hidden_states, "residual": residual})
        hidden_states, _ = self.norm(hidden_states, residual)
        return hidden_states


class DeciLMForCausalLM(nn.Module, SupportsLoRA, SupportsPP, SupportsQuant, HasNoOps):
    hf_to_vllm_mapper = WeightsMapper(
        orig_to_new_stacked={
            ".q_proj": (".qkv_proj", "q"),
            ".k_proj": (".qkv_proj", "k"),
            ".v_proj": (".qkv_proj", "v"),
            ".gate_proj": (".gate_up_proj", 0),
            ".up_proj": (".gate_up_proj", 1),
        }
    )
    packed_modules_mapping = {
        "qkv_proj": ["q_proj", "k_proj", "v_proj"],
        "gate_up_proj": ["gate_proj", "up_proj"],
    }
    embedding_modules = {
        "embed_tokens": "input_embeddings",
        "lm_head": "output_embeddings",
    }

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        config = vllm_config.model_config.hf_config
        self.config = config
        warn_if_dropped(vllm_config)
        self.model = DeciLMModel(vllm_config=vllm_config, prefix=maybe_prefix(prefix, "model"))
        if get_pp_group().is_last_rank:
            lm_head = ParallelLMHead(
                config.vocab_size,
                config.hidden_size,
                quant_config=vllm_config.quant_config,
                prefix=maybe_prefix(prefix, "lm_head"),
            )
            if config.tie_word_embeddings:
                # The last stage builds the embedding too when the weights are tied.
                assert isinstance(self.model.embed_tokens, VocabParallelEmbedding)
                lm_head = lm_head.tie_weights(self.model.embed_tokens)
            self.lm_head: ParallelLMHead | PPMissingLayer = lm_head
            self.logits_processor = LogitsProcessor(
                config.vocab_size, scale=getattr(config, "logit_scale", 1.0)
            )
        else:
            self.lm_head = PPMissingLayer()
        self.make_empty_intermediate_tensors = self.model.make_empty_intermediate_tensors

    def embed_input_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.embed_input_ids(input_ids)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        positions: torch.Tensor,
        intermediate_tensors: IntermediateTensors | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor | IntermediateTensors:
        return self.model(input_ids, positions, intermediate_tensors, inputs_embeds)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        return self.logits_processor(self.lm_head, hidden_states)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        loader = AutoWeightsLoader(self)
        return loader.load_weights(weights, mapper=self.hf_to_vllm_mapper)


__all__ = ["DeciLMForCausalLM", "BlockConfigError"]
