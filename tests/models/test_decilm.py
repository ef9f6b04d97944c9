"""DeciLM (`nemotron-nas`) served by our model class equals independent references.

One checkpoint covers every block variant (see tests/harness/decilm.py VARIANT_BLOCKS) and is
stored in three safetensors shards; a uniform-block checkpoint with tied embeddings must equal
transformers' LlamaForCausalLM with the same weights. TP=1 runs behind the OpenAI server (one
engine start for the reference comparison and the API check), TP=2 in an offline engine.
"""

import pytest
import torch

from tests.harness.decilm import (
    VARIANT_BLOCKS,
    build_decilm,
    load_checkpoint,
    reference_greedy,
    reference_logits,
    uniform_blocks,
)
from tests.models.engine import MAX_TOKENS, PROMPTS, greedy_tokens, served_greedy

pytestmark = pytest.mark.slow

TEXT_PROMPT = "The quick brown fox"


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    return build_decilm(tmp_path_factory.mktemp("decilm") / "variants", VARIANT_BLOCKS,
                        num_shards=3)


@pytest.fixture(scope="module")
def uniform_tied(tmp_path_factory):
    return build_decilm(tmp_path_factory.mktemp("decilm") / "uniform", uniform_blocks(3),
                        tie_word_embeddings=True, seed=1)


@pytest.fixture(scope="module")
def references(variants):
    return [reference_greedy(variants, p, MAX_TOKENS) for p in PROMPTS]


@pytest.fixture(scope="module")
def served(variants):
    """(greedy tokens of PROMPTS, the choice for TEXT_PROMPT) from the OpenAI server, TP=1."""
    return served_greedy(variants, text_prompt=TEXT_PROMPT)


@pytest.fixture(scope="module")
def vllm_tp1(served):
    return served[0]


@pytest.fixture(scope="module")
def vllm_tp2(variants, vllm_tp1):  # after TP=1 has stopped: never two engines at once
    return greedy_tokens(variants, tp=2)


def test_every_block_variant_matches_reference(vllm_tp1, references):
    assert vllm_tp1 == references


def test_every_block_variant_matches_reference_tp2(vllm_tp2, references):
    assert vllm_tp2 == references


def test_decilm_served_without_trust_remote_code(variants, served):
    """A text prompt over the OpenAI API: the reference's tokens, and text."""
    from transformers import AutoTokenizer

    choice = served[1]
    prompt_ids = AutoTokenizer.from_pretrained(str(variants))(TEXT_PROMPT)["input_ids"]
    assert choice.token_ids == reference_greedy(variants, prompt_ids, 8)
    assert choice.text


def test_window_length_changes_the_output(variants, vllm_tp1):
    """The reference without layer 6's window disagrees, so the match above proves the window."""
    import copy

    config, sd = load_checkpoint(variants)
    unwindowed = copy.deepcopy(config)
    unwindowed["block_configs"][6]["attention"]["window_length"] = None
    prompt = PROMPTS[2]  # 16 tokens + 12 generated: well past the window of 8
    ids = list(prompt)
    for _ in range(MAX_TOKENS):
        ids.append(int(reference_logits(unwindowed, sd, ids)[-1].argmax()))
    assert ids[len(prompt):] != vllm_tp1[2]


def test_uniform_tied_checkpoint_matches_transformers_llama(uniform_tied):
    from transformers import LlamaConfig, LlamaForCausalLM

    config, sd = load_checkpoint(uniform_tied)
    assert "lm_head.weight" not in sd
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=config["vocab_size"], hidden_size=config["hidden_size"],
        intermediate_size=256, num_hidden_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"], num_key_value_heads=2,
        rms_norm_eps=config["rms_norm_eps"], rope_theta=config["rope_theta"],
        tie_word_embeddings=True, max_position_embeddings=4096)).float().eval()
    missing, unexpected = llama.load_state_dict(sd, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}
    expected = []
    with torch.no_grad():
        for p in PROMPTS:
            out = llama.generate(torch.tensor([p]), max_new_tokens=MAX_TOKENS,
                                 min_new_tokens=MAX_TOKENS, do_sample=False)
            expected.append(out[0, len(p):].tolist())
    assert greedy_tokens(uniform_tied) == expected
