"""The `nemotron-nas` config class: loading without remote code, and load-time validation."""

import copy
import json

import pytest

from tests.harness.decilm import VARIANT_BLOCKS, build_decilm, uniform_blocks
from vllm_nemotron.configs import register_configs
from vllm_nemotron.configs.nemotron_nas import (
    BlockConfigError,
    NemotronNasConfig,
    ffn_mult_to_intermediate_size,
    parse_block_configs,
)
from vllm_nemotron.models.decilm import block_configs_of


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_decilm(tmp_path_factory.mktemp("nas") / "ckpt", VARIANT_BLOCKS)


@pytest.mark.parametrize("ffn_mult, hidden, expected", [
    (2.625, 8192, 14336),   # Super-49B's widest FFN: 2/3 * 2.625 * 8192 = 14336 exactly
    (1.0, 128, 256),        # 85 rounds up to 256
    (1.3125, 8192, 7168),
    (0.5, 4096, 1536),      # 1365 -> 1536
])
def test_ffn_mult_rounding(ffn_mult, hidden, expected):
    assert ffn_mult_to_intermediate_size(ffn_mult, hidden) == expected


def _blocks():
    return copy.deepcopy(uniform_blocks(3))


def _set(path, value):
    def edit(blocks):
        target = blocks
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return blocks
    return edit


# (edit of a valid 3-layer block_configs, words the error must contain)
MALFORMED = [
    (_set([1, "attention", "n_heads_in_group"], KeyError),
     "block_configs[1].attention.n_heads_in_group"),
    (_set([2, "attention", "n_heads_in_group"], 3),
     "block_configs[2].attention.n_heads_in_group=3 does not divide"),
    (_set([0, "attention", "n_heads_in_group"], 0), "block_configs[0].attention.n_heads_in_group"),
    (_set([1, "ffn"], KeyError), "block_configs[1].ffn is missing"),
    (_set([0, "attention"], None), "block_configs[0].attention is missing"),
    (_set([2, "ffn", "intermediate_size"], KeyError),
     "block_configs[2].ffn: needs ffn_mult or intermediate_size"),
    (_set([1, "ffn", "ffn_mult"], -1.0), None),  # intermediate_size wins; valid
    (_set([1, "attention", "replace_with_linear"], True) , None),  # linear needs no heads; valid
    (_set([0, "attention", "no_op"], True), None),
    (_set([1, "attention", "window_length"], -5), "block_configs[1].attention.window_length"),
    (_set([1, "attention", "parallel_heads"], 7),
     "block_configs[1].attention.parallel_heads=7 is not supported"),
    (_set([2, "parallel_blocks"], [{}]), "block_configs[2].parallel_blocks"),
    (lambda b: b[:2], "block_configs has 2 entries but num_hidden_layers is 3"),
    (lambda b: None, "block_configs is missing"),
]


@pytest.mark.parametrize("edit, message", MALFORMED)
def test_malformed_block_configs_name_layer_and_field(edit, message):
    blocks = edit(_blocks())
    if message is None:
        parse_block_configs(blocks, num_hidden_layers=3, num_attention_heads=4)
        return
    with pytest.raises(BlockConfigError) as info:
        parse_block_configs(blocks, num_hidden_layers=3, num_attention_heads=4)
    assert message in str(info.value)


def test_attention_sinks_refused_by_the_model_not_silently_dropped():
    blocks = _blocks()
    blocks[1]["attention"]["num_sink_tokens"] = 4
    config = NemotronNasConfig(hidden_size=128, num_attention_heads=4, num_hidden_layers=3,
                               block_configs=blocks)
    with pytest.raises(BlockConfigError, match=r"block_configs\[1\].attention.num_sink_tokens=4"):
        block_configs_of(config)


def test_register_is_idempotent_and_autoconfig_needs_no_remote_code(checkpoint):
    from transformers import AutoConfig

    register_configs()
    register_configs()
    config = AutoConfig.from_pretrained(str(checkpoint), trust_remote_code=False)
    assert isinstance(config, NemotronNasConfig)
    assert config.block_configs[3].attention.n_heads_in_group == 4
    assert config.block_configs[1].attention.replace_with_linear


def test_config_round_trips_through_save_pretrained(checkpoint, tmp_path):
    from transformers import AutoConfig

    register_configs()
    config = AutoConfig.from_pretrained(str(checkpoint))
    config.save_pretrained(str(tmp_path))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["block_configs"][6]["attention"]["window_length"] == 8
    assert AutoConfig.from_pretrained(str(tmp_path)).block_configs == config.block_configs


REMOTE_CONFIG_CODE = '''
from transformers import LlamaConfig

class DeciLMConfig(LlamaConfig):
    model_type = "nemotron-nas"

    def __init__(self, block_configs=None, **kwargs):
        self.block_configs = block_configs
        super().__init__(**kwargs)
'''


@pytest.mark.parametrize("trust_remote_code", [False, True])
def test_vllm_loads_config_with_and_without_trust_remote_code(checkpoint, tmp_path,
                                                              trust_remote_code):
    """Without the flag our class is used; with it, a checkpoint that ships remote code loads."""
    import shutil

    from vllm.transformers_utils.config import get_config

    register_configs()
    ckpt = tmp_path / "with_code"
    shutil.copytree(checkpoint, ckpt)
    (ckpt / "configuration_decilm.py").write_text(REMOTE_CONFIG_CODE)
    config = get_config(str(ckpt), trust_remote_code=trust_remote_code)
    blocks = block_configs_of(config)
    assert [b.attention.no_op for b in blocks] == [b["attention"]["no_op"] for b in VARIANT_BLOCKS]


def test_kv_heads_read_past_a_linear_replaced_first_attention(checkpoint):
    """In-tree vLLM reads n_heads_in_group of the first non-no-op attention, None when it is
    linear-replaced; the plugin's convertor reads the first real attention instead."""
    from vllm.config import ModelConfig

    register_configs()
    config = ModelConfig(str(checkpoint), dtype="float32")
    blocks = config.hf_config.block_configs
    first_real = next(b.attention for b in blocks if b.attention.is_full)
    assert blocks[1].attention.replace_with_linear  # the layout this test is about
    heads = config.hf_config.num_attention_heads
    assert config.get_total_num_kv_heads() == heads // first_real.n_heads_in_group
