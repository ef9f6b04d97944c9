"""Run one vLLM engine, greedy-decode several prompts, and shut it down before returning.

Each (checkpoint, TP size) gets one engine start per test module; returning plain token
lists and stopping the engine first keeps TP=1 and TP=2 engines from ever overlapping.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager

PROMPTS = [
    [1, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140],
    [1, 33, 44],
    [5, 200, 300, 17, 250, 251, 252, 253, 254, 255, 256, 257, 9, 10, 11, 12],
]
MAX_TOKENS = 12


@contextmanager
def engine(model_dir, tp=1, pp=1, dtype="float32", **engine_kwargs):
    """One vLLM `LLM` (float32 unless told), shut down on exit.

    Eager, except with pipeline parallelism: the CPU build allocates the buffers that carry
    activations between stages only in its compile warm-up, which eager mode skips.
    """
    from vllm import LLM

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    workers = tp * pp
    if workers > 1:
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "|".join(str(i) for i in range(workers))
    llm = LLM(str(model_dir), dtype=dtype, tensor_parallel_size=tp, pipeline_parallel_size=pp,
              max_model_len=256, max_num_seqs=8, enforce_eager=pp == 1, **engine_kwargs)
    try:
        yield llm
    finally:
        llm.llm_engine.engine_core.shutdown()
        del llm
        gc.collect()
        if workers > 1:
            os.environ.pop("VLLM_CPU_OMP_THREADS_BIND", None)


def greedy(llm, prompts=PROMPTS, max_tokens=MAX_TOKENS):
    """Token ids that `llm` greedily generates for each prompt (end-of-sequence ignored)."""
    from vllm import SamplingParams

    outs = llm.generate([{"prompt_token_ids": p} for p in prompts],
                        SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True),
                        use_tqdm=False)
    return [list(o.outputs[0].token_ids) for o in outs]


def spec_decode_counters(llm) -> dict[str, float]:
    """vLLM's speculative-decoding counters (`drafts`, `draft_tokens`, `accepted_tokens`);
    the engine needs `disable_log_stats=False`."""
    prefix = "vllm:spec_decode_num_"
    return {m.name.removeprefix(prefix): m.value for m in llm.get_metrics()
            if m.name.startswith(prefix) and isinstance(getattr(m, "value", None), (int, float))}


# An engine run by itself in a child process: vLLM's engine core and model in that process
# ("uni" executor), where an `LLM` would start an engine-core process and a worker process.
IN_PROCESS = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}


def greedy_tokens(model_dir, prompts=PROMPTS, max_tokens=MAX_TOKENS, tp=1, pp=1, dtype="float32",
                  **engine_kwargs):
    """Token ids that vLLM greedily generates for each prompt, from an engine started in a
    process of its own (tests/gpu/decode.py): the engine in that process for TP=PP=1, else its
    engine-core and worker processes forked from it (tests/harness/forked_engine.py)."""
    from tests.gpu.decode import decode

    return decode(model_dir, plugin=True, max_tokens=max_tokens,
                  env=IN_PROCESS if tp == pp == 1 else None, prompts=prompts, dtype=dtype,
                  tp=tp, pp=pp, **engine_kwargs)["tokens"]


def transformers_greedy(model_dir, prompts=PROMPTS, max_tokens=MAX_TOKENS):
    """transformers' float32 greedy tokens for each prompt (on CPU), and the smallest gap
    between the best and second-best logit over all of them (how safely another float32
    implementation reproduces each choice).

    Like vLLM's `ignore_eos`, the end-of-sequence token neither stops nor is masked.
    transformers 5.x's Nemotron-H never ties its lm_head to the embedding; a checkpoint whose
    config says tied ships no lm_head, so the reference ties it as the config says.
    """
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    if model.config.tie_word_embeddings:
        model.lm_head.weight = model.get_input_embeddings().weight
    model.generation_config.eos_token_id = None
    tokens, margin = [], float("inf")
    with torch.no_grad():
        for p in prompts:
            out = model.generate(torch.tensor([p]), max_new_tokens=max_tokens, do_sample=False,
                                 output_scores=True, return_dict_in_generate=True)
            tokens.append(out.sequences[0, len(p):].tolist())
            for scores in out.scores:
                top2 = scores[0].topk(2).values
                margin = min(margin, float(top2[0] - top2[1]))
    return tokens, margin


def served_greedy(model_dir, prompts=PROMPTS, max_tokens=MAX_TOKENS, text_prompt=None,
                  text_max_tokens=8):
    """What `greedy_tokens` returns, from the OpenAI server instead of an offline engine (one
    engine start serves both the reference comparison and the API check), and the choice the
    server gives for `text_prompt` (a string, greedy); the server stops before this returns."""
    from tests.harness.server import OpenAIServer

    with OpenAIServer(model_dir) as server:
        client = server.client()
        greedy = dict(model=client.models.list().data[0].id, temperature=0,
                      extra_body={"ignore_eos": True, "return_token_ids": True})
        out = client.completions.create(prompt=prompts, max_tokens=max_tokens, **greedy)
        tokens = [list(c.token_ids) for c in sorted(out.choices, key=lambda c: c.index)]
        choice = None
        if text_prompt is not None:
            choice = client.completions.create(prompt=text_prompt, max_tokens=text_max_tokens,
                                               **greedy).choices[0]
    return tokens, choice
