"""The budget holds where vLLM moves requests around: `n > 1` and preemption with recomputation.

A server whose KV cache holds only a few requests at a time, so a concurrent batch is preempted
(vLLM's `num_preemptions` counter proves it happened) and resumed requests are recomputed; the
processor derives each request's state from its output tokens again when it comes back.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from transformers import AutoTokenizer

from tests.harness.server import OpenAIServer
from tests.thinking_budget.served import end_sequence, thinking_tokens, thought_end
from vllm_nemotron.thinking_budget.params import DEFAULT_GRACE

pytestmark = pytest.mark.slow

FQCN = "vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor"
MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
MAX_TOKENS = 120
BUDGETS = [0, 3, 12, 40] * 4


@pytest.fixture(scope="module")
def server(tiny_hybrid):
    # 12 cache blocks (64 tokens each: vLLM sizes them to hold a Mamba state) hold only a few
    # of these requests at a time; the rest wait, and running ones are preempted as they grow.
    args = ["--logits-processors", FQCN, "--max-num-seqs", "16", "--max-model-len", "512",
            "--num-gpu-blocks-override", "12", "--no-enable-prefix-caching"]
    with OpenAIServer(tiny_hybrid, args, stats=True) as srv:
        yield srv


@pytest.fixture(scope="module")
def end_len(tiny_hybrid):
    return end_sequence(AutoTokenizer.from_pretrained(tiny_hybrid))[0]


def chat(client, budget, **kwargs):
    return client.chat.completions.create(
        model=client.models.list().data[0].id, messages=MESSAGES, max_tokens=MAX_TOKENS,
        temperature=1.0, logprobs=True, extra_body={"vllm_xargs": {"thinking_budget": budget}},
        **kwargs)


def test_budget_holds_through_preemption(server, end_len):
    client = server.client()
    before = server.counter("vllm:num_preemptions")
    with ThreadPoolExecutor(len(BUDGETS)) as pool:
        responses = list(pool.map(lambda b: chat(client, b), BUDGETS))
    preempted = server.counter("vllm:num_preemptions") - before
    assert preempted > 0, "the batch was never preempted: shrink the KV cache"
    for budget, response in zip(BUDGETS, responses):
        choice = response.choices[0]
        assert thinking_tokens(choice) <= budget + DEFAULT_GRACE + end_len - 1, budget
        assert thought_end([t.token for t in choice.logprobs.content]) is not None, budget


def test_every_choice_of_n_keeps_the_budget(server, end_len):
    response = chat(server.client(), 4, n=4)
    assert len(response.choices) == 4
    assert response.usage.completion_tokens == sum(
        len(c.logprobs.content) for c in response.choices)
    for choice in response.choices:
        assert thinking_tokens(choice) <= 4 + DEFAULT_GRACE + end_len - 1
        assert thought_end([t.token for t in choice.logprobs.content]) is not None
