"""Nemotron-H served by our class equals transformers' NemotronHForCausalLM.

The checkpoint uses what in-tree vLLM gets wrong: tied embeddings (no lm_head in the
checkpoint, so vLLM's own untie-and-load path cannot mask a missing tie) and a non-relu2 MLP
activation (silu), stored in two safetensors shards. TP=1 runs behind the OpenAI server (one
engine start for the reference comparison and the API check), TP=2 in an offline engine.
"""

import json

import pytest

from tests.models.engine import IN_PROCESS, greedy_tokens, served_greedy, transformers_greedy
from vllm_nemotron.models.nemotron_h import check_tensor_parallel
from vllm_nemotron.tiny import build_nemotron_h


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory):
    return build_nemotron_h(tmp_path_factory.mktemp("nemotron_h") / "tied_silu", pattern="M*-M-*",
                            tie_word_embeddings=True, mlp_hidden_act="silu", num_shards=2,
                            template=None)


@pytest.fixture(scope="module")
def references(hybrid):
    return transformers_greedy(hybrid)[0]


def test_tied_checkpoint_has_no_lm_head(hybrid):
    index = json.loads((hybrid / "model.safetensors.index.json").read_text())
    assert "lm_head.weight" not in index["weight_map"]
    assert "backbone.embeddings.weight" in index["weight_map"]


@pytest.fixture(scope="module")
def served(hybrid):
    """(greedy tokens of PROMPTS, a greedy choice for a text prompt) from the OpenAI server."""
    return served_greedy(hybrid, text_prompt="The quick brown fox")


@pytest.fixture(scope="module")
def vllm_tp1(served):
    return served[0]


@pytest.fixture(scope="module")
def vllm_tp2(hybrid, vllm_tp1):  # after TP=1 has stopped
    return greedy_tokens(hybrid, tp=2)


@pytest.mark.slow
def test_matches_transformers(vllm_tp1, references):
    assert vllm_tp1 == references


@pytest.mark.slow
def test_nemotron_h_served(served):
    choice = served[1]
    assert len(choice.token_ids) == 8 and choice.text


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


@pytest.mark.slow
def test_our_class_is_in_trees_but_for_the_mlp_activation(tmp_path):
    """Our class and in-tree's (VLLM_PLUGINS=""), each in its own process, load the same
    parameters byte for byte; only the MLPs' activation differs (the config's silu, where
    in-tree hard-codes relu2). This also runs the GPU tests' harness (tests/gpu/decode.py)."""
    from tests.gpu.decode import decode

    path = build_nemotron_h(tmp_path / "silu", pattern="M*-M-", mlp_hidden_act="silu",
                            template=None)
    ours = decode(path, plugin=True, env=IN_PROCESS)  # the engine in that process
    in_tree = decode(path, plugin=False, env=IN_PROCESS)
    assert ours["model_class"] == "vllm_nemotron.models.nemotron_h:NemotronHForCausalLM"
    assert in_tree["model_class"] == "vllm.model_executor.models.nemotron_h:NemotronHForCausalLM"
    assert ours["params"] == in_tree["params"]
    differ = {name for name, act in ours["activations"].items()
              if in_tree["activations"][name] != act}
    assert differ == {"model.layers.2.mixer", "model.layers.4.mixer"}
    assert {in_tree["activations"][name] for name in differ} == {"ReLUSquaredActivation"}
