"""The plain-torch DeciLM reference itself equals transformers' Llama on uniform blocks."""

import pytest
import torch

from tests.harness.decilm import build_decilm, load_checkpoint, reference_logits, uniform_blocks


@pytest.mark.parametrize("n_heads_in_group, tied", [(1, False), (2, True), (4, False)])
def test_reference_equals_llama_on_uniform_blocks(tmp_path, n_heads_in_group, tied):
    from transformers import LlamaConfig, LlamaForCausalLM

    path = build_decilm(tmp_path, uniform_blocks(2, n_heads_in_group, 192),
                        tie_word_embeddings=tied)
    config, sd = load_checkpoint(path)
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=config["vocab_size"], hidden_size=128, intermediate_size=192,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4 // n_heads_in_group,
        rms_norm_eps=config["rms_norm_eps"], rope_theta=config["rope_theta"],
        tie_word_embeddings=tied)).double().eval()
    llama.load_state_dict({k: v.double() for k, v in sd.items()}, strict=not tied)
    ids = [1, 40, 41, 42, 300, 7, 8, 9, 10]
    with torch.no_grad():
        expected = llama(torch.tensor([ids])).logits[0]
    # transformers builds RoPE frequencies in float32
    torch.testing.assert_close(reference_logits(config, sd, ids), expected, rtol=1e-5, atol=1e-5)
