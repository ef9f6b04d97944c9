"""A tiny model of each architecture answers over the OpenAI API through our classes."""

import pytest

from tests.harness.decilm import VARIANT_BLOCKS, build_decilm, reference_greedy
from tests.harness.server import OpenAIServer
from vllm_nemotron.tiny import build_nemotron_h

pytestmark = pytest.mark.slow

PROMPT = "The quick brown fox"


def _complete(server, max_tokens=8):
    client = server.client()
    model = client.models.list().data[0].id
    out = client.completions.create(model=model, prompt=PROMPT, max_tokens=max_tokens,
                                    temperature=0, extra_body={"ignore_eos": True,
                                                               "return_token_ids": True})
    return out.choices[0]


def test_decilm_served_without_trust_remote_code(tmp_path):
    from transformers import AutoTokenizer

    path = build_decilm(tmp_path / "decilm", VARIANT_BLOCKS)
    with OpenAIServer(path) as server:
        choice = _complete(server)
    prompt_ids = AutoTokenizer.from_pretrained(str(path))(PROMPT)["input_ids"]
    assert choice.token_ids == reference_greedy(path, prompt_ids, 8)
    assert choice.text


def test_nemotron_h_served(tmp_path):
    path = build_nemotron_h(tmp_path / "nemotron_h", template=None)
    with OpenAIServer(path) as server:
        choice = _complete(server)
    assert len(choice.token_ids) == 8 and choice.text
