"""`reasoning_effort` end to end on the CPU server (tiny hybrid model, Nemotron-3 template, which
opens <think>), with an operator mapping and a default budget set in the server's environment.

One server for the module (every effort and seed in one concurrent batch), plus one short-lived
process that must refuse to start on a bad mapping.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from transformers import AutoTokenizer

from tests.harness.server import OpenAIServer, ServerStartError
from tests.thinking_budget.served import end_sequence, thinking_tokens, thought_end
from vllm_nemotron.thinking_budget.effort import DEFAULT_BUDGET_ENV, EFFORT_BUDGETS_ENV
from vllm_nemotron.thinking_budget.params import DEFAULT_GRACE

pytestmark = pytest.mark.slow

# The operator's choices; "high" keeps its default (no budget).
ENV = {EFFORT_BUDGETS_ENV: "minimal=0, low=4, medium=12", DEFAULT_BUDGET_ENV: "8"}
BUDGET = {"minimal": 0, "low": 4, "medium": 12, None: 8}  # None: the request names no effort
EFFORTS = [None, "none", "minimal", "low", "medium", "high"]
SEEDS = [1, 2, 3]
MAX_TOKENS = 90
MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
ARGS = ["--reasoning-parser", "nano_v3", "--max-num-seqs", "32", "--no-enable-prefix-caching"]


@pytest.fixture(scope="module")
def server(tiny_hybrid):
    with OpenAIServer(tiny_hybrid, ARGS, env=ENV) as srv:
        yield srv


@pytest.fixture(scope="module")
def ends(tiny_hybrid) -> tuple[int, int]:
    """(forced end sequence length, position of `</think>` in it)."""
    return end_sequence(AutoTokenizer.from_pretrained(tiny_hybrid))


def chat(client, effort, seed, **extra):
    kwargs = {} if effort is None else {"reasoning_effort": effort}
    return client.chat.completions.create(
        model=client.models.list().data[0].id, messages=MESSAGES, max_tokens=MAX_TOKENS,
        temperature=1.0, seed=seed, logprobs=True, extra_body=extra or None, **kwargs)


def reasoning_tokens(usage) -> int:
    return usage.completion_tokens_details.reasoning_tokens


def test_each_effort_gets_its_budget_and_usage_counts_the_thought(server, ends):
    end_len, close_at = ends
    client = server.client()
    jobs = [(effort, seed) for effort in EFFORTS for seed in SEEDS]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = dict(zip(jobs, pool.map(lambda job: chat(client, *job), jobs)))

    for (effort, seed), response in results.items():
        choice, usage = response.choices[0], response.usage
        assert usage.completion_tokens == len(choice.logprobs.content), (effort, seed)
        if effort == "none":  # thinking off: the template closed the block
            assert choice.message.reasoning is None, seed
            assert reasoning_tokens(usage) == 0, seed
            continue
        thought = thinking_tokens(choice)
        assert reasoning_tokens(usage) == thought, (effort, seed)
        if effort in BUDGET:
            budget = BUDGET[effort]
            assert thought_end([t.token for t in choice.logprobs.content]) is not None
            # `</think>` is the end sequence's second-to-last token at the latest
            assert thought <= budget + DEFAULT_GRACE + end_len - 1, (effort, seed)
            if budget == 0:
                assert thought == close_at, seed
    # "high" is not mapped by the operator: no budget, it thinks past every mapped one
    assert any(thinking_tokens(results["high", seed].choices[0])
               > max(BUDGET.values()) + DEFAULT_GRACE + end_len for seed in SEEDS)


@pytest.mark.parametrize("effort", [None, "none", "low", "high"])
def test_streamed_usage_counts_tokens_before_the_end_of_thinking(server, effort):
    client = server.client()
    kwargs = {} if effort is None else {"reasoning_effort": effort}
    stream = client.chat.completions.create(
        model=server.model, messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=1.0, seed=7,
        logprobs=True, stream=True, stream_options={"include_usage": True}, **kwargs)
    tokens, usage = [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            tokens += [t.token for t in (choice.logprobs.content if choice.logprobs else [])]
    assert usage is not None and usage.completion_tokens == len(tokens)
    if effort == "none":
        assert reasoning_tokens(usage) == 0
    else:
        end = thought_end(tokens)
        assert reasoning_tokens(usage) == (len(tokens) if end is None else end)
        if effort in BUDGET:
            assert end is not None


def test_an_explicit_budget_overrides_the_effort(server, ends):
    end_len, close_at = ends
    client = server.client()
    # "high" has no budget on this server; the client's own budget (grace 0) applies
    own = chat(client, "high", 1, vllm_xargs={"thinking_budget": 3, "thinking_budget_grace": 0})
    assert thinking_tokens(own.choices[0]) == 3 + close_at
    # "minimal" maps to 0 here, but the client asks for 20
    more = chat(client, "minimal", 1, vllm_xargs={"thinking_budget": 20})
    assert close_at < thinking_tokens(more.choices[0]) <= 20 + DEFAULT_GRACE + end_len - 1
    # vLLM's native budget also wins, and lands as ours does (grace, then the end sequence)
    native = chat(client, "medium", 1, thinking_token_budget=2)
    assert thinking_tokens(native.choices[0]) <= 2 + DEFAULT_GRACE + end_len - 1


def test_responses_api_reasoning_effort(server, ends):
    _, close_at = ends
    client = server.client()
    used = {}
    for effort in ("minimal", "high"):
        response = client.responses.create(
            model=server.model, input="Why is the sky blue?", reasoning={"effort": effort},
            max_output_tokens=MAX_TOKENS, temperature=1.0)
        used[effort] = response.usage.output_tokens_details.reasoning_tokens
    assert used["minimal"] == close_at  # budget 0: the end of thinking is forced at once
    assert used["high"] > max(BUDGET.values()) + DEFAULT_GRACE


def test_a_bad_mapping_stops_the_server_at_start(tiny_hybrid):
    start = time.monotonic()
    bad = OpenAIServer(tiny_hybrid, ARGS, env={EFFORT_BUDGETS_ENV: "low=lots"}, timeout=120)
    with pytest.raises(ServerStartError) as err, bad:
        pass
    message = str(err.value)
    assert "exited with" in message  # it refused to start, it did not hang
    assert f"ValueError: {EFFORT_BUDGETS_ENV}: a thinking budget must be an integer" in message
    assert time.monotonic() - start < 60  # before any model is loaded
