"""Pipeline-parallel layer partition balanced by per-layer parameter count.

vLLM splits layers evenly by count unless `VLLM_PP_LAYER_PARTITION` says otherwise. NAS
and hybrid models have layers of very different size (a no-op block has no weights, a
Mamba layer differs from an MLP layer), so an even split leaves some stages much heavier.
This computes contiguous stages that minimise the heaviest stage, counting the LM head on
the last stage.

    python -m vllm_nemotron.models.partition <checkpoint-dir> <pipeline-parallel-size>
"""

import json
import sys
from pathlib import Path

from vllm_nemotron.configs.nemotron_nas import ffn_intermediate_size, parse_block_configs


def _attention_params(hidden: int, heads: int, kv_heads: int, head_dim: int) -> int:
    return 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim


def decilm_layer_params(config: dict) -> list[int]:
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    blocks = parse_block_configs(
        config["block_configs"],
        num_hidden_layers=config["num_hidden_layers"],
        num_attention_heads=heads,
    )
    counts = []
    for b in blocks:
        n = 0
        if b.attention.replace_with_linear:
            n += hidden * hidden + hidden
        elif not b.attention.no_op:
            kv = heads // b.attention.n_heads_in_group
            n += _attention_params(hidden, heads, kv, head_dim) + hidden
        if b.ffn.replace_with_linear:
            n += hidden * hidden + hidden
        elif not b.ffn.no_op:
            n += 3 * hidden * ffn_intermediate_size(b.ffn, hidden) + hidden
        counts.append(n)
    return counts


def nemotron_h_layer_params(config: dict) -> list[int]:
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    inner = config["mamba_num_heads"] * config["mamba_head_dim"]
    groups_state = 2 * config["n_groups"] * config["ssm_state_size"]
    mamba_heads = config["mamba_num_heads"]
    mamba = (
        hidden * (2 * inner + groups_state + mamba_heads)  # in_proj
        + (inner + groups_state) * (config["conv_kernel"] + 1)  # conv1d weight + bias
        + 3 * mamba_heads + inner  # A, D, dt_bias, gated norm
        + inner * hidden  # out_proj
    )
    inter = config["intermediate_size"]
    inter = inter[0] if isinstance(inter, list) else inter
    per_type = {
        "M": mamba,
        "*": _attention_params(hidden, heads, config["num_key_value_heads"], head_dim),
        "-": 2 * hidden * inter,
        "E": config.get("n_routed_experts", 0) * 2 * hidden * config.get("moe_intermediate_size", 0)
        + config.get("n_shared_experts", 0) * 2 * hidden
        * config.get("moe_shared_expert_intermediate_size", 0),
    }
    return [per_type[t] + hidden for t in config["hybrid_override_pattern"]]


def uniform_layer_params(config: dict) -> list[int]:
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = config.get("head_dim") or hidden // heads
    kv = config.get("num_key_value_heads") or heads
    layer = (_attention_params(hidden, heads, kv, head_dim)
             + 3 * hidden * config["intermediate_size"] + 2 * hidden)
    return [layer] * config["num_hidden_layers"]


def layer_params(config: dict) -> list[int]:
    """Parameters of each decoder layer, from a checkpoint's config.json contents."""
    if "block_configs" in config:
        return decilm_layer_params(config)
    if "hybrid_override_pattern" in config:
        return nemotron_h_layer_params(config)
    return uniform_layer_params(config)


def balanced_partition(costs: list[int], stages: int, last_stage_extra: int = 0) -> list[int]:
    """Layers per stage: contiguous, at least one each, minimising the heaviest stage."""
    n = len(costs)
    if not 1 <= stages <= n:
        raise ValueError(f"cannot split {n} layers into {stages} pipeline stages")
    prefix = [0]
    for c in costs:
        prefix.append(prefix[-1] + c)

    def stage_cost(i: int, j: int, last: bool) -> int:
        return prefix[j] - prefix[i] + (last_stage_extra if last else 0)

    inf = float("inf")
    # best[s][j]: lowest heaviest-stage cost splitting the first j layers into s stages
    best = [[inf] * (n + 1) for _ in range(stages + 1)]
    cut = [[0] * (n + 1) for _ in range(stages + 1)]
    best[0][0] = 0
    for s in range(1, stages + 1):
        last = s == stages
        for j in range(s, n + 1):
            for i in range(s - 1, j):
                value = max(best[s - 1][i], stage_cost(i, j, last and j == n))
                if value < best[s][j]:
                    best[s][j], cut[s][j] = value, i
    sizes, j = [], n
    for s in range(stages, 0, -1):
        i = cut[s][j]
        sizes.append(j - i)
        j = i
    return sizes[::-1]


def partition_for(config: dict, pp_size: int) -> list[int]:
    """Layers per pipeline stage for a checkpoint config, LM head counted on the last stage."""
    lm_head = config["vocab_size"] * config["hidden_size"]
    return balanced_partition(layer_params(config), pp_size, last_stage_extra=lm_head)


def env_value(sizes: list[int]) -> str:
    return ",".join(str(s) for s in sizes)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    config = json.loads((Path(argv[0]) / "config.json").read_text())
    pp_size = int(argv[1])
    costs = layer_params(config)
    sizes = partition_for(config, pp_size)
    even = [len(costs) // pp_size + (s >= pp_size - len(costs) % pp_size) for s in range(pp_size)]
    print(f"{'stage':>5} {'layers':>7} {'params (balanced)':>18} {'params (even split)':>20}")
    start_b = start_e = 0
    lm_head = config["vocab_size"] * config["hidden_size"]
    for s in range(pp_size):
        extra = lm_head if s == pp_size - 1 else 0
        pb = sum(costs[start_b:start_b + sizes[s]]) + extra
        pe = sum(costs[start_e:start_e + even[s]]) + extra
        print(f"{s:>5} {sizes[s]:>7} {pb:>18,} {pe:>20,}")
        start_b += sizes[s]
        start_e += even[s]
    print(f"\nexport VLLM_PP_LAYER_PARTITION={env_value(sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
