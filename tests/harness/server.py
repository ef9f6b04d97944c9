"""The OpenAI server for tests: the package's runner, with the repository on PYTHONPATH.

Tests load test-only pieces (e.g. `tests.harness.scripted:ScriptedOutput`) into the server's
processes, so the repository root must be importable there.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import torch

from vllm_nemotron.serving.local_server import OpenAIServer as _OpenAIServer
from vllm_nemotron.serving.local_server import ServerStartError, free_port  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]

# float32 so tests can compare tokens against references; a small context for a small KV cache;
# eager: tests check the plugin, not the compiler, and the CPU build otherwise compiles each new
# model configuration on its first start (measured: 50 s cold, 30 s warm or eager).
DEFAULT_ARGS = ["--dtype", "float32", "--max-model-len", "4096", "--disable-log-stats",
                "--enforce-eager"]


# The clients (httpx) drop a connection after 5 s idle, and vLLM's server closed it after 5 s
# too: a pooled connection reused at that moment failed with "Server disconnected without
# sending a response" (a test with max_retries=0 under load). The server now waits longer.
# Tried on 2026-12-06 and left out: VLLM_ENABLE_V1_MULTIPROCESSING=0 (the model in the
# engine-core process) started a server about a third sooner on this 2-core machine, but the
# tests that generate many tokens took about three times as long (test_knobs_server's Anthropic
# test 147 s, under 42 s before) and the suite 26 minutes instead of 17.
SERVER_ENV: dict[str, str] = {"VLLM_HTTP_TIMEOUT_KEEP_ALIVE": "60"}


class OpenAIServer(_OpenAIServer):
    """`stats=True` keeps vLLM's metrics on (for tests that read `/metrics`). On a CPU the
    engine processes are forked (tests/harness/forked_engine.py) unless `spawn=True` asks for
    the CPU user's path; beside a GPU the server is plain `vllm serve`."""

    def __init__(self, model_dir, args=(), env=None, stats=False, spawn=False, **kwargs):
        self.spawn = spawn
        env = {**SERVER_ENV, **(env or {})}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", os.environ.get("PYTHONPATH"))) if p)
        defaults = [a for a in DEFAULT_ARGS if not (stats and a == "--disable-log-stats")]
        super().__init__(model_dir, [*defaults, *args], env=env, cwd=REPO_ROOT, **kwargs)

    def command(self) -> list[str]:
        command = super().command()
        if self.spawn or torch.cuda.is_available():
            return command
        assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"], command
        return [command[0], "-m", "tests.harness.forked_engine", *command[3:]]

    def counter(self, name: str) -> float:
        """A Prometheus counter from `/metrics`, summed over its labels (needs `stats=True`)."""
        metrics = httpx.get(self.url("/metrics"), timeout=30).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                   if line.startswith(f"{name}_total"))
