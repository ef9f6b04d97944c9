"""The Model Runner V2 adapter driven through the V2 interface by hand, on CPU tensors.

Rows are shuffled every step (as V2 does) and token ids live only in the request-state tensor,
so the adapter must map rows through the context and read the tokens itself.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from vllm.sampling_params import SamplingParams
from vllm.v1.worker.gpu.sample.logits_processor import LogitsContext, LogitsProcRequestState

from tests.thinking_budget.test_machine import NL, NL2, SINGLE, WORD
from vllm_nemotron.thinking_budget import ThinkingBudgetLogitsProcessor

VOCAB, MAX_LEN = 16, 64
PROMPT = [3, 4, 1]  # ends inside <think> (token 1), as the Nemotron-3 template leaves it


def host(values):
    return SimpleNamespace(np=np.asarray(values, dtype=np.int32))


def test_mixed_batch_with_reordered_rows():
    budgets = {0: {"thinking_budget": 2, "thinking_budget_grace": 0}, 1: None,
               2: {"thinking_budget": 0}, 3: {"thinking_budget": 4, "thinking_budget_grace": 0}}
    tokens = torch.zeros(len(budgets), MAX_LEN, dtype=torch.int32)
    tokens[:, :len(PROMPT)] = torch.tensor(PROMPT, dtype=torch.int32)
    prompt_len = [len(PROMPT)] * len(budgets)
    req_states = LogitsProcRequestState(
        device=torch.device("cpu"), max_num_reqs=8, vocab_size=VOCAB,
        all_token_ids=SimpleNamespace(gpu=tokens), prompt_len=host(prompt_len),
        prefill_len=host(prompt_len), total_len=None)
    config = SimpleNamespace(model_config=None, speculative_config=None)
    proc = ThinkingBudgetLogitsProcessor(config, req_states)
    proc.v2.markers.markers = SINGLE  # the served tokenizer's markers, given directly

    wants = {slot: proc.add_request(slot, SamplingParams(extra_args=extra))
             for slot, extra in budgets.items()}
    assert wants == {0: True, 1: False, 2: True, 3: True}
    proc.apply_staged_writes()

    rng = np.random.default_rng(0)
    seq_len = {slot: len(PROMPT) for slot in budgets}
    for _ in range(10):
        order = rng.permutation(list(budgets)).astype(np.int64)
        lens = np.array([seq_len[s] for s in order], dtype=np.int32)
        ctx = LogitsContext(
            expanded_idx_mapping=torch.from_numpy(order), idx_mapping=torch.from_numpy(order),
            idx_mapping_np=order, expanded_local_pos=torch.zeros(len(order), dtype=torch.int64),
            input_ids=torch.stack([tokens[s, seq_len[s] - 1] for s in order]),
            pos=torch.from_numpy(lens - 1), seq_lens_upper_bound_np=lens)
        logits = torch.zeros(len(order), VOCAB)
        logits[:, WORD] = 5.0  # the "model" always says WORD
        sampled = proc.apply(logits, ctx).argmax(dim=-1)
        for row, slot in enumerate(order):
            tokens[slot, seq_len[slot]] = sampled[row]
            seq_len[slot] += 1

    out = {s: tokens[s, len(PROMPT):seq_len[s]].tolist() for s in budgets}
    assert out[0] == [WORD] * 2 + [NL, 2, NL2] + [WORD] * 5
    assert out[1] == [WORD] * 10
    assert out[2] == [NL, 2, NL2] + [WORD] * 7
    assert out[3] == [WORD] * 4 + [NL, 2, NL2] + [WORD] * 3


def test_answer_reserve_closes_in_time_and_then_costs_nothing():
    """Slot 0 thinks without a budget: with max_tokens 10 and a reserve of 3 its thought may
    use 10 - 3 - 3 (end sequence) = 4 tokens; slot 1 turned the reserve off."""
    tokens = torch.zeros(2, MAX_LEN, dtype=torch.int32)
    tokens[:, :len(PROMPT)] = torch.tensor(PROMPT, dtype=torch.int32)
    req_states = LogitsProcRequestState(
        device=torch.device("cpu"), max_num_reqs=4, vocab_size=VOCAB,
        all_token_ids=SimpleNamespace(gpu=tokens), prompt_len=host([len(PROMPT)] * 2),
        prefill_len=host([len(PROMPT)] * 2), total_len=None)
    proc = ThinkingBudgetLogitsProcessor(SimpleNamespace(model_config=None), req_states)
    proc.v2.markers.markers = SINGLE
    assert proc.add_request(0, SamplingParams(max_tokens=10, extra_args={"answer_reserve": 3}))
    assert not proc.add_request(1, SamplingParams(max_tokens=10, extra_args={"answer_reserve": 0}))
    length = len(PROMPT)
    for _ in range(10):
        order = np.array([1, 0], dtype=np.int64)
        lens = np.array([length, length], dtype=np.int32)
        ctx = LogitsContext(
            expanded_idx_mapping=torch.from_numpy(order), idx_mapping=torch.from_numpy(order),
            idx_mapping_np=order, expanded_local_pos=torch.zeros(2, dtype=torch.int64),
            input_ids=tokens[order, length - 1], pos=torch.from_numpy(lens - 1),
            seq_lens_upper_bound_np=lens)
        logits = torch.zeros(2, VOCAB)
        logits[:, WORD] = 5.0
        sampled = proc.apply(logits, ctx).argmax(dim=-1)
        tokens[order, length] = sampled.to(torch.int32)
        length += 1
    assert tokens[0, len(PROMPT):length].tolist() == [WORD] * 4 + [NL, 2, NL2] + [WORD] * 3
    assert tokens[1, len(PROMPT):length].tolist() == [WORD] * 10
    assert not proc.v2.budgeted[0] and 0 not in proc.v2.slots  # closed: no more work


def test_no_budgeted_request_means_no_work():
    req_states = SimpleNamespace(max_num_reqs=4)
    proc = ThinkingBudgetLogitsProcessor(
        SimpleNamespace(model_config=None, speculative_config=None), req_states)
    assert proc.add_request(0, SamplingParams()) is False
    logits = torch.randn(1, VOCAB)
    ctx = SimpleNamespace(idx_mapping_np=np.array([0]))
    assert torch.equal(proc.apply(logits.clone(), ctx), logits)


EXPECTED_NO_DRAFTS = [WORD] * 3 + [NL, 2, NL2] + [WORD] * 8  # budget 3, grace 0


def decode_with_drafts(drafter, num_drafts: int, steps: int) -> list[int]:
    """Greedy speculative decoding of one budgeted request through the V2 interface.

    Each step feeds the last committed token and `num_drafts` drafts (one logits row each);
    the verifier keeps drafts while they equal the row's argmax and then takes the argmax,
    as vLLM's rejection sampler does for greedy requests.
    """
    tokens = torch.zeros(1, MAX_LEN, dtype=torch.int32)
    tokens[0, :len(PROMPT)] = torch.tensor(PROMPT, dtype=torch.int32)
    req_states = LogitsProcRequestState(
        device=torch.device("cpu"), max_num_reqs=2, vocab_size=VOCAB,
        all_token_ids=SimpleNamespace(gpu=tokens), prompt_len=host([len(PROMPT)]),
        prefill_len=host([len(PROMPT)]), total_len=None)
    proc = ThinkingBudgetLogitsProcessor(SimpleNamespace(model_config=None), req_states)
    proc.v2.markers.markers = SINGLE
    proc.add_request(0, SamplingParams(extra_args={"thinking_budget": 3,
                                                   "thinking_budget_grace": 0}))
    length = len(PROMPT)
    for _ in range(steps):
        committed = tokens[0, len(PROMPT):length].tolist()
        drafts = drafter(committed, num_drafts)
        rows = 1 + len(drafts)
        ctx = LogitsContext(
            expanded_idx_mapping=torch.zeros(rows, dtype=torch.int64),
            idx_mapping=torch.zeros(1, dtype=torch.int64), idx_mapping_np=np.array([0]),
            expanded_local_pos=torch.arange(rows),
            input_ids=torch.tensor([int(tokens[0, length - 1])] + drafts, dtype=torch.int32),
            pos=torch.arange(length - 1, length - 1 + rows),
            seq_lens_upper_bound_np=np.array([length + len(drafts)], dtype=np.int32))
        logits = torch.zeros(rows, VOCAB)
        logits[:, WORD] = 5.0  # the "model" always says WORD
        targets = proc.apply(logits, ctx).argmax(dim=-1).tolist()
        accepted = []
        for k, target in enumerate(targets):
            accepted.append(target)
            if k == len(drafts) or drafts[k] != target:
                break
        for token in accepted:
            tokens[0, length] = token
            length += 1
    return tokens[0, len(PROMPT):length].tolist()


def always(token):
    return lambda committed, n: [token] * n


def oracle(committed, n):
    return EXPECTED_NO_DRAFTS[len(committed):len(committed) + n]


@pytest.mark.parametrize("drafter", [always(WORD), always(NL), oracle],
                         ids=["drafts WORD", "drafts a newline", "drafts the right tokens"])
@pytest.mark.parametrize("num_drafts", [1, 3])
def test_speculative_drafts_cannot_change_the_output(drafter, num_drafts):
    """Whatever the drafter proposes, the verified output is the one without drafts."""
    out = decode_with_drafts(drafter, num_drafts, steps=14)
    assert out[:len(EXPECTED_NO_DRAFTS)] == EXPECTED_NO_DRAFTS[:len(out)]
    assert len(out) >= 14  # every step commits at least one token
