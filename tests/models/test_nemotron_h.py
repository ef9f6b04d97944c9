"""Nemotron-H served by our class equals transformers' NemotronHForCausalLM.

The checkpoint uses what in-tree vLLM gets wrong: tied embeddings and a non-relu2 MLP
activation (silu), stored in two safetensors shards.
"""

import pytest
import torch

from tests.models.engine import MAX_TOKENS, PROMPTS, greedy_tokens
from vllm_nemotron.models.nemotron_h import check_tensor_parallel
from vllm_nemotron.tiny import build_nemotron_h


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory):
    return build_nemotron_h(tmp_path_factory.mktemp("nemotron_h") / "tied_silu", pattern="M*-M-*",
                            tie_word_embeddings=True, mlp_hidden_act="silu", num_shards=2,
                            template=None)


@pytest.fixture(scope="module")
def references(hybrid):
    from transformers import NemotronHForCausalLM

    model = NemotronHForCausalLM.from_pretrained(str(hybrid), dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for p in PROMPTS:
            ids = model.generate(torch.tensor([p]), max_new_tokens=MAX_TOKENS,
                                 min_new_tokens=MAX_TOKENS, do_sample=False)
            out.append(ids[0, len(p):].tolist())
    return out


@pytest.fixture(scope="module")
def vllm_tp1(hybrid):
    return greedy_tokens(hybrid, tp=1)


@pytest.fixture(scope="module")
def vllm_tp2(hybrid, vllm_tp1):  # after TP=1 has stopped
    return greedy_tokens(hybrid, tp=2)


@pytest.mark.slow
def test_matches_transformers(vllm_tp1, references):
    assert vllm_tp1 == references


@pytest.mark.slow
def test_matches_transformers_tp2(vllm_tp2, references):
    assert vllm_tp2 == references


def _engine_config(path, **kwargs):
    from vllm.engine.arg_utils import EngineArgs

    return EngineArgs(model=str(path), dtype="float32", max_model_len=256,
                      **kwargs).create_engine_config()


@pytest.mark.parametrize("user_value, expected", [(None, "float32"), ("float16", "float16")])
def test_mamba_ssm_cache_is_float32_unless_the_user_says(hybrid, user_value, expected):
    kwargs = {} if user_value is None else {"mamba_ssm_cache_dtype": user_value}
    config = _engine_config(hybrid, **kwargs)
    assert config.model_config.architecture == "NemotronHForCausalLM"
    assert config.cache_config.mamba_ssm_cache_dtype == expected


class _Config:
    hybrid_override_pattern = "M*-"
    mamba_num_heads = 8

    def __init__(self, n_groups):
        self.n_groups = n_groups


@pytest.mark.parametrize("n_groups, tp, error", [
    (2, 2, None), (1, 4, None), (8, 4, None),
    (3, 2, "n_groups=3 is not divisible by tensor_parallel_size=2"),
    (2, 4, "n_groups=2 is not divisible by tensor_parallel_size=4"),
    (8, 3, "mamba_num_heads=8 is not divisible by tensor_parallel_size=3"),
])
def test_tensor_parallel_errors_name_the_field(n_groups, tp, error):
    if error is None:
        check_tensor_parallel(_Config(n_groups), tp)
    else:
        with pytest.raises(ValueError, match=error):
            check_tensor_parallel(_Config(n_groups), tp)
