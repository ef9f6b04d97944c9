"""Does vLLM's CPU Mamba conv update read only its inputs when decoding speculatively?

With speculative decoding vLLM gives each Mamba layer a conv state of `width - 1 + num_spec`
columns and verifies `1 + num_spec` tokens per request. vLLM 0.32's CPU kernel for that
(`causal_conv1d_update_cpu_vec`) then also reads heap memory it never wrote: its output
changes with what the allocator hands it. `python -m tests.models.conv_update_probe` prints
the kernel's output on fixed inputs as JSON; run it under different `MALLOC_PERTURB_` values
(glibc fills fresh heap memory with that byte) and a sound kernel prints the same each time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

WIDTH, NUM_SPEC, BATCH, DIM = 4, 2, 3, 320


def conv_update_output() -> list[float]:
    """Row sums of the kernel's output on seeded inputs shaped as vLLM's MTP decode step."""
    import torch
    from vllm.platforms import current_platform

    current_platform.import_kernels()
    from vllm._custom_ops import causal_conv1d_update_cpu_vec

    torch.manual_seed(0)
    query = 1 + NUM_SPEC
    # vLLM's layout: (blocks, columns, dim) stored, the kernel sees it as (blocks, dim, columns)
    state = torch.randn(4 * BATCH, WIDTH - 1 + NUM_SPEC, DIM).transpose(-1, -2)
    # one block per verified token, as vLLM's Mamba2 metadata gives them
    blocks = torch.arange(BATCH * (query + 1), dtype=torch.int32).view(BATCH, query + 1)
    out = causal_conv1d_update_cpu_vec(
        torch.randn(BATCH * query, DIM), state, torch.randn(DIM, WIDTH), torch.randn(DIM),
        "silu", blocks[:, 1:].contiguous(),
        torch.arange(0, BATCH * query + 1, query, dtype=torch.int32), -1)
    return [float(row.sum()) for row in out]


def outputs_under_heap_fillings(fillings=(1, 165)) -> list[list[float]]:
    """The kernel's output in a fresh process per glibc heap filling byte."""
    runs = []
    for byte in fillings:
        env = {**os.environ, "MALLOC_PERTURB_": str(byte)}
        done = subprocess.run([sys.executable, "-m", "tests.models.conv_update_probe"],
                              env=env, capture_output=True, text=True, timeout=300, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return runs


if __name__ == "__main__":
    print(json.dumps(conv_update_output()))
