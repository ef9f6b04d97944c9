"""vLLM's engine-core and worker processes forked from the process that starts them, for tests.

vLLM forks them on a GPU; its CPU platform spawns them instead (`check_and_update_config` sets
VLLM_WORKER_MULTIPROC_METHOD=spawn), and each spawned process imports vLLM again: 10-14 s of
CPU, about two thirds of a test server's start on a 2-core machine (measured: 35 s spawned,
14 s forked). Test servers start this way unless they ask for the CPU user's path
(`OpenAIServer(spawn=True)`, e.g. the session's plugin server), and so do the offline engines
of more than one process (tests/gpu/decode.py); tests/test_foundation.py keeps checking the
plugin in spawned engine and worker processes.

A spawned CPU worker binds its OpenMP threads from the environment vLLM sets for it
(OMP_NUM_THREADS, GOMP_CPU_AFFINITY), read when torch loads; a forked one has torch loaded
already, so it binds itself here (unbound, it generated at half speed beside the engine core).

`python -m tests.harness.forked_engine <vllm serve arguments>` runs the OpenAI server so.
"""

from __future__ import annotations

import os
import runpy
import sys


def _bind_threads() -> None:
    """What a spawned worker's OpenMP runtime does with the environment vLLM gave it."""
    import torch

    cpus = os.environ.get("GOMP_CPU_AFFINITY", "").split()
    if cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus})
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def fork_engine_processes() -> None:
    """From now on, this process forks the engine processes it starts (on a CPU; elsewhere
    vLLM's own choice stands). Call it before the engine is configured."""
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return
    from vllm.platforms.cpu import CpuPlatform
    from vllm.v1.executor.multiproc_executor import WorkerProc

    cpu_config = CpuPlatform.check_and_update_config.__func__
    worker_main = WorkerProc.worker_main

    def check_and_update_config(cls, vllm_config) -> None:
        cpu_config(cls, vllm_config)
        os.environ["VLLM_WORKER_MULTIPROC_METHOD"] = "fork"

    def bound_worker_main(*args, **kwargs):
        _bind_threads()
        return worker_main(*args, **kwargs)

    CpuPlatform.check_and_update_config = classmethod(check_and_update_config)
    WorkerProc.worker_main = staticmethod(bound_worker_main)


if __name__ == "__main__":
    fork_engine_processes()
    sys.argv[0] = "vllm.entrypoints.openai.api_server"
    runpy.run_module("vllm.entrypoints.openai.api_server", run_name="__main__", alter_sys=True)
