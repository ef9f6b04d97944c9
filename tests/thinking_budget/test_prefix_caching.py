"""The budget holds when the prompt comes from vLLM's prefix cache.

The processor reads the prompt's tail and the output tokens, never what was computed, so a cache
hit must change nothing. The server runs the DeciLM model with the Nemotron-3 template (opens
<think>): on the CPU build a hybrid model crashes on prefix-cache hits past one chunk.
"""

from __future__ import annotations

import pytest
from transformers import PreTrainedTokenizerFast

from tests.harness.decilm import build_decilm
from tests.harness.server import OpenAIServer
from tests.thinking_budget.served import answer, end_sequence, thinking_tokens
from vllm_nemotron.chat_templates import text as chat_template
from vllm_nemotron.thinking_budget.params import DEFAULT_GRACE

pytestmark = pytest.mark.slow

# long enough to fill several cache blocks
MESSAGES = [{"role": "user", "content": "Why is the sky blue? Explain it step by step. " * 8}]


def test_budget_holds_on_a_prefix_cache_hit(tmp_path):
    model = build_decilm(tmp_path / "decilm", template=chat_template("nemotron_nano_v3"))
    # no remote-code question, unlike AutoTokenizer on a nemotron-nas checkpoint
    end_len, close_at = end_sequence(PreTrainedTokenizerFast.from_pretrained(model))
    args = ["--enable-prefix-caching", "--block-size", "32"]
    with OpenAIServer(model, args, stats=True) as server:
        client = server.client()

        def chat(budget):
            return client.chat.completions.create(
                model=server.model, messages=MESSAGES, max_tokens=40, temperature=1.0, seed=5,
                logprobs=True, extra_body={"vllm_xargs": {"thinking_budget": budget}})

        for budget in (0, 6):
            before = server.counter("vllm:prefix_cache_hits")
            cold, warm = chat(budget), chat(budget)
            # the second prompt came from the cache
            assert server.counter("vllm:prefix_cache_hits") > before
            for response in (cold, warm):
                thought = thinking_tokens(response.choices[0])
                if budget == 0:  # the end sequence comes first
                    assert thought == close_at
                assert thought <= budget + DEFAULT_GRACE + end_len - 1
                assert answer(response.choices[0]) is not None  # thinking ended
            assert warm.choices[0].message.content == cold.choices[0].message.content
