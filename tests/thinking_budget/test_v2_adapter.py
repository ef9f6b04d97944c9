"""The Model Runner V2 adapter driven through the V2 interface by hand, on CPU tensors.

Rows are shuffled every step (as V2 does) and token ids live only in the request-state tensor,
so the adapter must map rows through the context and read the tokens itself.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
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
    proc.impl.markers.markers = SINGLE  # the served tokenizer's markers, given directly

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


def test_no_budgeted_request_means_no_work():
    req_states = SimpleNamespace(max_num_reqs=4)
    proc = ThinkingBudgetLogitsProcessor(
        SimpleNamespace(model_config=None, speculative_config=None), req_states)
    assert proc.add_request(0, SamplingParams()) is False
    logits = torch.randn(1, VOCAB)
    ctx = SimpleNamespace(idx_mapping_np=np.array([0]))
    assert torch.equal(proc.apply(logits.clone(), ctx), logits)
