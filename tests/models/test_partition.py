"""Pipeline-parallel partition balanced by per-layer parameter count."""

import itertools
import re
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.harness.decilm import VARIANT_BLOCKS, build_decilm, load_checkpoint
from vllm_nemotron.models.partition import balanced_partition, layer_params, main, partition_for


def _stored_params_per_layer(sd) -> dict[int, int]:
    counts = defaultdict(int)
    for name, tensor in sd.items():
        if m := re.match(r"model\.layers\.(\d+)\.", name):
            counts[int(m.group(1))] += tensor.numel()
    return counts


def test_decilm_layer_params_match_the_checkpoint(tmp_path):
    config, sd = load_checkpoint(build_decilm(tmp_path, VARIANT_BLOCKS))
    stored = _stored_params_per_layer(sd)
    assert layer_params(config) == [stored.get(i, 0) for i in range(len(VARIANT_BLOCKS))]


def test_nemotron_h_layer_params_match_transformers(tmp_path):
    import json

    from transformers import NemotronHForCausalLM

    from vllm_nemotron.tiny import build_nemotron_h

    path = build_nemotron_h(tmp_path, pattern="M*-M-", template=None)
    config = json.loads((path / "config.json").read_text())
    model = NemotronHForCausalLM.from_pretrained(str(path))
    stored = defaultdict(int)
    for name, p in model.named_parameters():
        if m := re.match(r"(?:model|backbone)\.layers\.(\d+)\.", name):
            stored[int(m.group(1))] += p.numel()
    assert layer_params(config) == [stored[i] for i in range(5)]


def _brute_force_best(costs, stages, extra):
    best = None
    for cuts in itertools.combinations(range(1, len(costs)), stages - 1):
        bounds = (0, *cuts, len(costs))
        loads = [sum(costs[a:b]) for a, b in zip(bounds, bounds[1:])]
        loads[-1] += extra
        best = max(loads) if best is None else min(best, max(loads))
    return best


@settings(max_examples=200, deadline=None)
@given(costs=st.lists(st.integers(0, 1000), min_size=1, max_size=9), data=st.data())
def test_partition_is_optimal_and_covers_every_layer(costs, data):
    stages = data.draw(st.integers(1, len(costs)))
    extra = data.draw(st.integers(0, 2000))
    sizes = balanced_partition(costs, stages, last_stage_extra=extra)
    assert len(sizes) == stages and all(s >= 1 for s in sizes) and sum(sizes) == len(costs)
    bounds = list(itertools.accumulate([0, *sizes]))
    loads = [sum(costs[a:b]) for a, b in zip(bounds, bounds[1:])]
    loads[-1] += extra
    assert max(loads) == _brute_force_best(costs, stages, extra)


def test_partition_rejects_more_stages_than_layers():
    with pytest.raises(ValueError, match="cannot split 2 layers into 3"):
        balanced_partition([1, 2], 3)


def test_cli_prints_the_env_line(tmp_path, capsys):
    path = build_decilm(tmp_path, VARIANT_BLOCKS)
    config, _ = load_checkpoint(path)
    assert main([str(path), "3"]) == 0
    expected = ",".join(map(str, partition_for(config, 3)))
    assert f"export VLLM_PP_LAYER_PARTITION={expected}" in capsys.readouterr().out
