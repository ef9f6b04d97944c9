"""deploy/smoke.py against the CPU server: its checks pass on right answers, fail on wrong ones.

The tiny model is scripted (tests/gpu/scripted_smoke.py), so this proves the checks and the
server's parsing agree. The thinking-budget check needs a model that thinks on its own (the
scripted text would fight the budget processor); it runs on a GPU with a real checkpoint.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.deploy.manifests import DEPLOY
from tests.gpu.scripted_smoke import SCRIPTS, ScriptedClient, load_smoke

smoke = load_smoke()
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("check", sorted(SCRIPTS))
def test_check_passes_when_the_model_answers_right(plugin_server, check):
    client = ScriptedClient(plugin_server.client(), SCRIPTS[check])
    smoke.CHECKS[check](client, plugin_server.model)


# check -> a wrong answer it must reject
WRONG = {
    "tool_call": "I cannot call tools, but Paris is usually mild.",
    "reasoning": "391",  # thinking was on, but nothing closed it: all reasoning, no answer
    "chat": "<think>",
}


@pytest.mark.parametrize("check", sorted(WRONG))
def test_check_fails_when_the_model_answers_wrong(plugin_server, check):
    client = ScriptedClient(plugin_server.client(), WRONG[check])
    with pytest.raises(smoke.CheckFailed):
        smoke.CHECKS[check](client, plugin_server.model)


def test_health_check_and_command_line(plugin_server):
    """smoke.sh end to end: health passes; a wrong model name fails with exit status 1."""
    ok = subprocess.run(["bash", str(DEPLOY / "smoke.sh"), plugin_server.url(""), "--only",
                         "health"], capture_output=True, text=True, timeout=120,
                        env={**os.environ, "PYTHON": sys.executable})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 passed, 0 failed" in ok.stdout
    bad = subprocess.run([sys.executable, str(DEPLOY / "smoke.py"), plugin_server.url(""),
                          "--model", "no-such-model", "--only", "health"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "FAIL  health" in bad.stdout
