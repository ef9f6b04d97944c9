"""DeciLM over two pipeline stages, split where the plugin's balanced partition says.

Two FFN-only layers (the FFN-fusion layout) in front of every block variant make the layers'
sizes uneven enough that the balanced split differs from vLLM's even one; the stages hand over
the residual stream mid-model, after a no-op-attention first layer, and the tokens must still
equal the independent reference. Runs on the CPU build (PP=2, one core per stage).
"""

import json

import pytest

from tests.harness.decilm import NO_OP, VARIANT_BLOCKS, build_decilm, full_ffn, reference_greedy
from tests.models.engine import MAX_TOKENS, PROMPTS, greedy_tokens
from vllm_nemotron.models.partition import env_value, partition_for

pytestmark = pytest.mark.slow

BLOCKS = [{"attention": NO_OP, "ffn": full_ffn(intermediate_size=64)}] * 2 + VARIANT_BLOCKS


def test_balanced_pipeline_stages_match_reference(tmp_path, monkeypatch):
    path = build_decilm(tmp_path / "pp", BLOCKS, num_shards=3)
    stages = partition_for(json.loads((path / "config.json").read_text()), 2)
    assert stages == [6, 4]  # vLLM's even split would be [5, 5]
    monkeypatch.setenv("VLLM_PP_LAYER_PARTITION", env_value(stages))
    expected = [reference_greedy(path, p, MAX_TOKENS) for p in PROMPTS]
    assert greedy_tokens(path, pp=2) == expected
