"""Session fixtures shared by every test module: tiny checkpoints and the plugin's server."""

from __future__ import annotations

import os

import pytest

# The CPU build sizes its KV cache from this (GiB); without it an engine asks for most of RAM.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The answer reserve is on by default for every thinking request; the tests written before it
# pin thoughts by length, so they run with it off (the opt-out keeps today's behaviour), and
# tests/thinking_budget/test_answer_reserve*.py turn it on. Servers inherit this environment.
os.environ.setdefault("VLLM_NEMOTRON_ANSWER_RESERVE", "0")

from tests.harness.server import OpenAIServer


def pytest_xdist_auto_num_workers(config):
    """Workers for `-n auto` (pyproject's default): two on a CPU machine, where most of a test's
    time is an engine starting in one process; none beside a GPU, whose tests share the device.
    """
    import torch

    if torch.cuda.is_available():
        return 0
    cpus = os.cpu_count() or 1
    return min(2, cpus) if cpus > 1 else 0


# Test files that share a session-scoped server run on one worker, so that it starts once.
SHARED_SERVERS = {
    "plugin_server": ["tests/test_foundation.py", "tests/thinking_budget/test_server.py",
                      "tests/deploy/test_smoke_script.py", "tests/serving/test_examples.py",
                      "tests/serving/test_faults.py", "tests/serving/test_load.py",
                      "tests/parsers/test_e2e.py"],
}
GROUP_OF_FILE = {path: group for group, paths in SHARED_SERVERS.items() for path in paths}


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that the files of a SHARED_SERVERS group are one unit."""
    from xdist.scheduler import LoadFileScheduling

    class SharedServerScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return GROUP_OF_FILE.get(path, path)

    return SharedServerScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    import torch

    # Engine and server tests first (stable order otherwise): with two workers each takes whole
    # test files (pyproject's `--dist loadfile --no-loadscope-reorder`), and the many quick
    # parser and recipe tests fill the gaps at the end instead of leaving one worker idle.
    items.sort(key=lambda item: "slow" not in item.keywords)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def answer_reserve_built_in(monkeypatch):
    """The answer reserve as shipped, in this process (the environment above turns it off):
    `server_reserve` reads the environment once per process, so its cache is cleared before and
    after, or a later test in this worker would find the reserve on."""
    from vllm_nemotron.thinking_budget import reserve

    monkeypatch.setenv(reserve.RESERVE_ENV, "")
    reserve.server_reserve.cache_clear()
    yield
    reserve.server_reserve.cache_clear()


@pytest.fixture(scope="session")
def tiny_hybrid(tmp_path_factory):
    """A tiny Nemotron-H checkpoint with the Nemotron-3-Nano template (opens <think>)."""
    from vllm_nemotron.tiny import build_nemotron_h

    return build_nemotron_h(tmp_path_factory.mktemp("models") / "nemotron-h")


# Every plugin piece on, plus the scripted-output processor that makes the model say a given text.
# The parsers come from their drop-in files, the model-card way (tests/parsers/test_e2e.py);
# the other servers (test_combinations.py, the thinking_budget servers, ...) take them by name
# from the plugin alone.
PLUGIN_SERVER_ARGS = [
    "--enable-auto-tool-choice",
    "--tool-parser-plugin", "parsers/llama_nemotron_json_tool_parser.py",
    "--tool-call-parser", "llama_nemotron_json",
    "--reasoning-parser-plugin", "parsers/nano_v3_reasoning_parser.py",
    "--reasoning-parser", "nano_v3",
    "--logits-processors", "tests.harness.scripted:ScriptedOutput",
    # The CPU build's Mamba scan ignores prefix caching's intermediate states: a prompt longer
    # than one chunk crashes the engine core (IndexError in mamba_mixer2). GPU builds are fine.
    "--no-enable-prefix-caching",
]


@pytest.fixture(scope="session")
def plugin_server(tiny_hybrid):
    """The OpenAI server on the tiny hybrid model with every plugin piece active, started as
    `vllm serve` starts it for a CPU user (engine processes spawned: the plugin registers in
    each by itself, not forked from one where it already had)."""
    with OpenAIServer(tiny_hybrid, PLUGIN_SERVER_ARGS, spawn=True) as server:
        yield server
