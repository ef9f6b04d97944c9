"""End to end on the CPU server (V1 runner) with the tiny hybrid model, whose template opens
<think>.

The session's plugin server; every budget and seed goes out in one concurrent batch.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from transformers import AutoTokenizer

from tests.thinking_budget.served import answer, end_sequence, thinking_tokens
from vllm_nemotron.thinking_budget.params import DEFAULT_GRACE

pytestmark = pytest.mark.slow

BUDGETS = [0, 3, 12, 40]
SEEDS = [1, 2, 3]
MAX_TOKENS = 90
MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture(scope="module")
def server(plugin_server):
    """The session's plugin server (tests/conftest.py): the budget processor from its entry
    point, beside `nano_v3` and the scripted processor, which leave these requests alone. The
    budget processor named with `--logits-processors` as well runs in test_knobs_server.py
    (with `nano_v3`) and test_batching.py (without a reasoning parser)."""
    return plugin_server


def chat(client, seed, budget=None):
    extra = {} if budget is None else {"vllm_xargs": {"thinking_budget": budget}}
    return client.chat.completions.create(
        model=client.models.list().data[0].id, messages=MESSAGES, max_tokens=MAX_TOKENS,
        temperature=1.0, seed=seed, logprobs=True, extra_body=extra)


def test_budgets_in_one_concurrent_batch(server, tiny_hybrid):
    end_len, close_at = end_sequence(AutoTokenizer.from_pretrained(tiny_hybrid))
    client = server.client()
    jobs = [(budget, seed) for budget in BUDGETS + [None] for seed in SEEDS]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = dict(zip(jobs, pool.map(lambda job: chat(client, job[1], job[0]), jobs)))

    longer = 0
    for (budget, seed), response in results.items():
        content = response.choices[0].logprobs.content
        assert response.usage.completion_tokens == len(content)
        if budget is None:
            continue
        thought = thinking_tokens(response.choices[0])
        if budget == 0:  # the end sequence comes first
            assert thought == close_at, seed
        # `</think>` is the end sequence's second-to-last token at the latest
        assert thought <= budget + DEFAULT_GRACE + end_len - 1, (budget, seed)
        said = answer(response.choices[0])
        assert said is not None, (budget, seed)  # thinking ended
        assert said.strip() or response.choices[0].finish_reason == "stop", (budget, seed)
        # without a budget the same request thinks longer
        unbudgeted = thinking_tokens(results[(None, seed)].choices[0])
        if budget + DEFAULT_GRACE + end_len < unbudgeted:
            assert thought < unbudgeted
            longer += 1
    assert longer >= len(SEEDS)  # at least the budget-0 requests were cut short


@pytest.mark.parametrize("xargs", [
    {"thinking_budget": -2}, {"thinking_budget": 1.5}, {"thinking_budget": "3"},
    {"thinking_budget": 10**12}, {"thinking_budget_grace": 4},
])
def test_bad_values_get_400_and_server_stays_healthy(server, xargs):
    client = server.client()
    body = {"model": client.models.list().data[0].id, "messages": MESSAGES, "max_tokens": 4,
            "vllm_xargs": xargs}
    reply = httpx.post(server.url("/v1/chat/completions"), json=body, timeout=60)
    assert reply.status_code == 400, reply.text
    assert next(iter(xargs)) in reply.text
    assert httpx.get(server.url("/health"), timeout=10).status_code == 200
    assert chat(client, 0, 2).choices[0].message.content


def test_native_budget_lands_like_ours_inside_it(plugin_server):
    """vLLM's own `thinking_token_budget` reaches our `nano_v3` parser, which moves it onto the
    plugin's processor as a maximum (docs/thinking-knobs.md): the thought is at most `budget`
    tokens, then the closing "\n</think>" (vLLM's own cut would force `</think>` alone)."""
    client = plugin_server.client()
    budget = 3
    cut = {"native": {"thinking_token_budget": budget},
           "plugin": {"vllm_xargs": {"thinking_budget": budget, "thinking_budget_grace": 0}},
           "none": {}}
    thought = {}
    for name, extra in cut.items():
        for seed in SEEDS:
            response = client.chat.completions.create(
                model=plugin_server.model, messages=MESSAGES, max_tokens=MAX_TOKENS,
                temperature=1.0, seed=seed, logprobs=True, extra_body=extra)
            thought[name, seed] = thinking_tokens(response.choices[0])
            if name == "plugin":
                assert response.choices[0].message.reasoning is not None, seed
    for seed in SEEDS:
        # both force "\n</think>\n\n": the newline is the one token past the budget; the
        # native one may end sooner, at a line break inside its budget (the grace is inside)
        assert thought["native", seed] <= budget + 1, seed
        assert thought["plugin", seed] == budget + 1, seed
    assert any(thought["none", seed] > budget + 1 for seed in SEEDS)
