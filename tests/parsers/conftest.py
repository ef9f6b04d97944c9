"""Fixtures for the parser tests: the harness tokenizer (tags as single tokens)."""

import pytest


@pytest.fixture(scope="session")
def tag_tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    from vllm_nemotron.tiny import save_tokenizer

    path = tmp_path_factory.mktemp("tok")
    save_tokenizer(path)
    return AutoTokenizer.from_pretrained(str(path))
