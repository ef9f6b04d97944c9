"""Run one vLLM engine, greedy-decode several prompts, and shut it down before returning.

Each (checkpoint, TP size) gets one engine start per test module; returning plain token
lists and stopping the engine first keeps TP=1 and TP=2 engines from ever overlapping.
"""

from __future__ import annotations

import gc
import os

PROMPTS = [
    [1, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140],
    [1, 33, 44],
    [5, 200, 300, 17, 250, 251, 252, 253, 254, 255, 256, 257, 9, 10, 11, 12],
]
MAX_TOKENS = 12


def greedy_tokens(model_dir, prompts=PROMPTS, max_tokens=MAX_TOKENS, tp=1, pp=1, dtype="float32",
                  **engine_kwargs):
    """Token ids that vLLM greedily generates for each prompt (float32 unless told).

    Eager, except with pipeline parallelism: the CPU build allocates the buffers that carry
    activations between stages only in its compile warm-up, which eager mode skips.
    """
    from vllm import LLM, SamplingParams

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    workers = tp * pp
    if workers > 1:
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = "|".join(str(i) for i in range(workers))
    llm = LLM(str(model_dir), dtype=dtype, tensor_parallel_size=tp, pipeline_parallel_size=pp,
              max_model_len=256, max_num_seqs=8, enforce_eager=pp == 1, **engine_kwargs)
    try:
        outs = llm.generate([{"prompt_token_ids": p} for p in prompts],
                            SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True),
                            use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outs]
    finally:
        llm.llm_engine.engine_core.shutdown()
        del llm
        gc.collect()
        if workers > 1:
            os.environ.pop("VLLM_CPU_OMP_THREADS_BIND", None)
