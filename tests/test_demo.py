"""`vllm-nemotron demo` as a user runs it: what it says it shows, and that it cleans up on any
exit (SIGTERM, Ctrl-C while starting, an error)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from vllm_nemotron.cli import demo
from vllm_nemotron.thinking_budget.reserve import RESERVE_ENV, default_reserve, thought_cap

DEMO = os.path.join(os.path.dirname(sys.executable), "vllm-nemotron")


def start_demo(*args: str) -> tuple[subprocess.Popen, str]:
    """The demo as a user runs it (the plugin's defaults: the answer reserve on, which
    conftest.py turns off for the other tests); every process it starts inherits a marker in
    its environment, so none can hide after the demo exits."""
    marker = f"demo-test-{os.getpid()}-{time.monotonic_ns()}"
    env = {key: value for key, value in os.environ.items() if key != RESERVE_ENV}
    proc = subprocess.Popen([DEMO, "demo", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**env, "VLLM_CPU_KVCACHE_SPACE": "1",
                                 "PYTHONUNBUFFERED": "1", "VLLM_NEMOTRON_DEMO_TEST": marker})
    return proc, marker


def read_until(proc: subprocess.Popen, text: str, lines: list[str], seconds: float = 400) -> str:
    deadline = time.monotonic() + seconds
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if text in line or time.monotonic() > deadline:
            break
    out = "".join(lines)
    assert text in out, out[-4000:]
    return out


def processes_with(marker: str) -> list[str]:
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "name"]):
        try:
            if process.environ().get("VLLM_NEMOTRON_DEMO_TEST") == marker:
                found.append(f"{process.pid} {process.name()} {process.status()}")
        except (psutil.Error, OSError):
            continue
    return found


def assert_cleaned_up(marker: str, out: str) -> None:
    """The demo removed its temporary folder (checkpoint and server log) and left no process."""
    workdir = re.search(r"checkpoint in (\S+) \.\.\.", out)
    assert workdir is not None, out[-3000:]
    assert os.path.basename(workdir[1]).startswith("vllm-nemotron-demo-")
    assert not os.path.exists(workdir[1]), out[-3000:]
    assert f"Removed {workdir[1]}." in out
    deadline = time.monotonic() + 30  # children the demo killed may take a moment to be reaped
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_with(marker) == []


def finish(proc: subprocess.Popen, seconds: float = 90) -> str:
    try:
        rest, _ = proc.communicate(timeout=seconds)
    finally:
        stop(proc)
    return rest


def stop(proc: subprocess.Popen) -> None:
    """After a failed check: SIGTERM first, so that the demo still stops its server."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_demo_names_its_budget_and_cleans_up_on_sigterm():
    """One full demo run: its answers, the budget and grace it says it shows and what the
    server counted; then SIGTERM (a container runtime's stop) removes the checkpoint folder
    and the server."""
    proc, marker = start_demo()
    lines: list[str] = []
    try:
        out = read_until(proc, "Press Ctrl-C to stop.", lines)
        assert "Server ready at http://127.0.0.1:" in out
        # the first reply thought, then answered in the tokens the reserve kept for it
        first = re.search(r"--- chat completion: max_tokens 96, of which the answer reserve "
                          r"keeps 64 for the answer \(the default\) ---\nreasoning: (.*)\n"
                          r"content: +(.*)\n", out)
        assert first is not None and first[1] != "None" and first[2] not in ("None", "''"), out
        assert ("thinking budget 8 tokens, then up to 16 grace tokens to finish the line, then "
                "the end of thinking is forced; max_tokens 48, answer reserve 16") in out
        counted = re.search(r"counted by the server: (\d+) reasoning tokens of (\d+) completion "
                            r"tokens \(at most 8 budget \+ 16 grace, and the forced line break",
                            out)
        assert counted is not None, out[-3000:]
        thought, completion = int(counted[1]), int(counted[2])
        assert 0 < thought <= 8 + 16 + 1 and thought <= completion
        deltas = re.search(r"\((\d+) reasoning and (\d+) content deltas", out)
        assert deltas is not None and 0 < int(deltas[1]) <= thought
        proc.send_signal(signal.SIGTERM)
        rest = finish(proc)
    finally:
        stop(proc)
    assert proc.returncode == 0, rest[-3000:]
    assert "Stopped the server." in rest
    assert_cleaned_up(marker, out + rest)


@pytest.mark.slow
def test_demo_cleans_up_on_ctrl_c_while_starting_and_on_an_error():
    """Ctrl-C while vLLM loads, and a server that does not start in time (an error): both
    stop the server and remove the folder. Neither waits for a model to load."""
    proc, marker = start_demo()
    lines: list[str] = []
    try:
        out = read_until(proc, "(server log:", lines)
        import psutil

        def server_started() -> bool:
            for child in psutil.Process(proc.pid).children():
                try:
                    if "vllm.entrypoints.openai.api_server" in " ".join(child.cmdline()):
                        return True
                except psutil.Error:
                    continue
            return False

        deadline = time.monotonic() + 60
        while not server_started() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server_started()
        proc.send_signal(signal.SIGINT)
        rest = finish(proc)
    finally:
        stop(proc)
    assert proc.returncode == 0, rest[-3000:]
    assert "Interrupted." in rest and "Stopped the server." in rest
    assert_cleaned_up(marker, out + rest)

    proc, marker = start_demo("--timeout", "1")
    rest = finish(proc, 300)
    assert proc.returncode == 1, rest[-3000:]
    assert "vLLM did not start" in rest
    assert_cleaned_up(marker, rest)


def test_the_demo_says_its_reserves_and_its_budget_lands_first(tiny_hybrid):
    """The reserve the demo prints for its first request is the default one, and the streamed
    request's reserve leaves room for its budget and grace, and the forced end of thinking
    (the demo's checkpoint is tiny_hybrid's, from the same builder)."""
    from transformers import AutoTokenizer

    from tests.thinking_budget.served import end_sequence

    assert demo.LIMIT_RESERVE == default_reserve(demo.LIMIT)
    closing, _ = end_sequence(AutoTokenizer.from_pretrained(tiny_hybrid))
    cap = thought_cap(demo.STREAM_LIMIT, demo.STREAM_RESERVE, closing, think_start=0)
    assert demo.BUDGET + demo.GRACE <= cap


def test_a_signal_while_the_server_process_is_created_waits_for_its_handle():
    """Ctrl-C that lands inside `Popen` (the window the Ctrl-C test above hit now and then)
    is raised once the server's handle is kept, so stopping it can reach it."""
    from vllm_nemotron.serving.local_server import _signals_held

    reached = False
    with pytest.raises(KeyboardInterrupt):
        with _signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            reached = True
    assert reached
