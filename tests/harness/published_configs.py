"""The published shapes of Nemotron 3 Nano-30B-A3B, Super-120B-A12B and Ultra-550B-A55B, as
`config.json` dicts for test checkpoints, each with where its values were read.

- Nano-30B-A3B: the checkpoint's whole config.json (nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16
  on the hub); its layer pattern and sizes agree with NVIDIA-NeMo/Megatron-Bridge
  `Nemotron3NanoProvider` (src/megatron/bridge/models/nemotronh/nemotron_h_provider.py, before
  commit fff8ba3e4 removed the file).
- Super-120B-A12B and Ultra-550B-A55B: NVIDIA's own Megatron-LM arguments for the two
  checkpoints (NVIDIA/Megatron-LM examples/post_training/modelopt/conf/nvidia/
  NVIDIA-Nemotron-3-Super-120B-A12B-BF16.sh and NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16.sh):
  layer pattern, layers, hidden size, heads / KV groups of 128, expert and shared-expert
  sizes, experts, top-k, `--moe-latent-size`, Mamba heads and head size; Super's MTP head
  `*E` (commented out there; the hub listing of the BF16 checkpoint has
  `num_nextn_predict_layers: 1`, `mtp_hybrid_override_pattern: "*E"`). Megatron-Bridge has
  no Super provider class; its bridge test has the same Super MoE fields
  (tests/unit_tests/models/nemotronh/test_nemotron_h_bridge.py). Not in NVIDIA's files, taken
  from Nano-30B's config: vocab 131072, Mamba groups 8, state 128, conv 4 (a public training
  script quotes the same from Ultra's HF config: miles' scripts/models/
  nemotron-3-ultra-550b-a55b.sh), and Ultra's MTP head (one `attention, moe` step, as
  Super's). Ultra is written with `layers_block_type`, the form its HF config is reported to
  use, from NVIDIA's pattern string. Its BF16 weights then come to 1121.0 GB, the size quoted
  for the BF16 repository (1121 GB; NVFP4 352 GB).
"""

from __future__ import annotations

NANO_30B = {
    "architectures": ["NemotronHForCausalLM"], "attention_bias": False, "bos_token_id": 1,
    "chunk_size": 128, "conv_kernel": 4, "eos_token_id": 2, "expand": 2, "head_dim": 128,
    "hidden_size": 2688,
    "hybrid_override_pattern": "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
    "intermediate_size": 1856, "layer_norm_epsilon": 1e-05, "mamba_head_dim": 64,
    "mamba_hidden_act": "silu", "mamba_num_heads": 64, "mamba_ssm_cache_dtype": "float32",
    "max_position_embeddings": 262144, "mlp_hidden_act": "relu2", "model_type": "nemotron_h",
    "moe_intermediate_size": 1856, "moe_shared_expert_intermediate_size": 3712, "n_group": 1,
    "n_groups": 8, "n_routed_experts": 128, "n_shared_experts": 1, "norm_topk_prob": True,
    "num_attention_heads": 32, "num_experts_per_tok": 6, "num_hidden_layers": 52,
    "num_key_value_heads": 2, "pad_token_id": 0, "rope_theta": 10000,
    "routed_scaling_factor": 2.5, "ssm_state_size": 128, "tie_word_embeddings": False,
    "topk_group": 1, "torch_dtype": "bfloat16", "use_conv_bias": True, "vocab_size": 131072,
}

SUPER_120B = {
    **NANO_30B,
    "hidden_size": 4096, "num_hidden_layers": 88,
    "hybrid_override_pattern": "MEMEMEM*EMEMEMEM*EMEMEMEM*EMEMEMEMEM*EMEMEMEMEM*EMEMEMEMEM*"
                               "EMEMEMEMEM*EMEMEMEM*EMEMEMEME",
    "intermediate_size": 2688, "moe_intermediate_size": 2688,
    "moe_shared_expert_intermediate_size": 5376, "mamba_num_heads": 128,
    "n_routed_experts": 512, "num_experts_per_tok": 22, "routed_scaling_factor": 5.0,
    "moe_latent_size": 1024, "num_nextn_predict_layers": 1, "mtp_hybrid_override_pattern": "*E",
}

ULTRA_PATTERN = ("MEMEMEM*EMEMEM*EMEMEMEM*EMEMEMEM*EMEMEM*EMEMEMEM*EMEMEMEM*EMEMEM*EMEMEMEM*"
                 "EMEMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME")
LETTER_BLOCKS = {"M": "mamba", "E": "moe", "*": "attention", "-": "mlp"}

ULTRA_550B = {
    **{k: v for k, v in SUPER_120B.items()
       if k not in ("hybrid_override_pattern", "mtp_hybrid_override_pattern")},
    "hidden_size": 8192, "num_hidden_layers": 108,
    "layers_block_type": [LETTER_BLOCKS[letter] for letter in ULTRA_PATTERN],
    "mtp_layers_block_type": ["attention", "moe"], "num_attention_heads": 64,
    "intermediate_size": 5120, "moe_intermediate_size": 5120,
    "moe_shared_expert_intermediate_size": 10240, "moe_latent_size": 2048,
    "mamba_num_heads": 256,
}

# ModelOpt's hf_quant_config.json, as NVIDIA's FP8 and NVFP4 checkpoints ship it.
FP8_QUANT = {"producer": {"name": "modelopt"},
             "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}}
NVFP4_QUANT = {"producer": {"name": "modelopt"},
               "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8",
                                "group_size": 16}}

# Nemotron-3.5-Lightning-30B-A3B: Nano-30B-A3B's shape (52 layers, 23 Mamba, 6 attention, 128
# experts, top 6, hidden 2688: ai-dynamo/aiconfigurator PR 1541 and Avarok atlas-recipes PR 18
# read it from the checkpoint) with an MTP head, here Super's one `*E` step.
LIGHTNING_30B = {**NANO_30B, "num_nextn_predict_layers": 1, "mtp_hybrid_override_pattern": "*E"}


def _mixed_layers(config: dict, algo_of) -> dict[str, dict]:
    """`quantized_layers` for every module of `config` that `algo_of(module)` quantizes: the
    per-layer map ModelOpt writes, generated from the published layer pattern."""
    from vllm_nemotron.serving.parameters import modules

    layers = {}
    for module in modules(config):
        algo = algo_of(module)
        if algo is not None:
            layers[module.name] = {"quant_algo": algo, **({"group_size": 16}
                                                          if "NVFP4" in algo else {})}
    return layers


def super_ultra_nvfp4(module) -> str | None:
    """Super/Ultra NVFP4 releases: routed experts NVFP4, shared experts and Mamba in/out
    projections FP8, the rest (attention, latent projections, routers, embeddings, LM head,
    MTP head) BF16 (ModelOpt's super-nvfp4.yaml, which mirrors the published Super
    hf_quant_config.json; NVIDIA-NeMo/Nemotron PR 257 for Ultra)."""
    from vllm_nemotron.serving import parameters as p

    if module.role == p.ROUTED:
        return "NVFP4"
    return "FP8" if module.role in (p.SHARED, p.MAMBA_PROJ) else None


def lightning_nvfp4(module) -> str | None:
    """3.5 Lightning NVFP4: weight-only NVFP4 (W4A16_NVFP4) for the routed and shared experts
    and the LM head, FP8 Mamba in/out projections, MTP head BF16 (unsloth issue 8555 read it
    from the checkpoint's config.json: 5,935 W4A16 targets = 23 x 128 x 2 routed + 23 x 2
    shared + lm_head; 46 FP8 targets = 23 x in/out)."""
    from vllm_nemotron.serving import parameters as p

    if module.role in (p.ROUTED, p.SHARED, p.LM_HEAD):
        return "W4A16_NVFP4"
    return "FP8" if module.role == p.MAMBA_PROJ else None


def mixed_hf_quant_config(config: dict, algo_of=super_ultra_nvfp4) -> dict:
    """hf_quant_config.json of a ModelOpt MIXED_PRECISION export."""
    return {"producer": {"name": "modelopt"},
            "quantization": {"quant_algo": "MIXED_PRECISION", "kv_cache_quant_algo": "FP8",
                             "exclude_modules": ["lm_head", "backbone.embeddings", "mtp*",
                                                 "*mixer.gate*", "*conv1d*"],
                             "quantized_layers": _mixed_layers(config, algo_of)}}


def mixed_quantization_config(config: dict, algo_of=lightning_nvfp4,
                              with_layers: bool = True) -> dict:
    """config.json's `quantization_config` of a ModelOpt MIXED_PRECISION export: the
    compressed-tensors style `config_groups` (4-bit float weights with or without 4-bit
    activations, 8-bit float weights and activations), `ignore`, `kv_cache_scheme`, and (in
    newer exports, `with_layers`) the same `quantized_layers` map."""
    layers = _mixed_layers(config, algo_of)
    fp4 = {"num_bits": 4, "type": "float", "group_size": 16, "dynamic": False}
    fp8 = {"num_bits": 8, "type": "float", "dynamic": False}
    groups = {}
    for i, algo in enumerate(sorted({info["quant_algo"] for info in layers.values()})):
        weights = fp4 if "NVFP4" in algo else fp8
        group = {"weights": weights, "targets": sorted(n for n, info in layers.items()
                                                       if info["quant_algo"] == algo)}
        if algo != "W4A16_NVFP4":
            group["input_activations"] = weights
        groups[f"group_{i}"] = group
    quant = {"quant_method": "modelopt", "quant_algo": "MIXED_PRECISION",
             "producer": {"name": "modelopt"}, "config_groups": groups,
             "ignore": ["backbone.embeddings", "*conv1d*", "*mixer.gate*", "mtp*"],
             "kv_cache_scheme": fp8}
    if with_layers:
        quant["quantized_layers"] = layers
    return quant
