"""GPU smoke tests: the plugin serves on CUDA and passes deploy/smoke.py's checks.

- A real checkpoint from the local disk (NEMOTRON_GPU_CHECKPOINT=/path/to/checkpoint; no hub
  access needed), served with the plugin's recipe for its family: every smoke check that the
  family supports must pass, thinking budget included.
- A tiny Nemotron-H checkpoint built on the spot, scripted to say what a working model would:
  runs wherever CUDA exists, with no checkpoint at all.
Both are skipped without CUDA (tests/conftest.py) and have not run on a GPU yet
(deploy/README.md, "What ran where").
"""

from __future__ import annotations

import os

import pytest

from tests.gpu.scripted_smoke import SCRIPTS, ScriptedClient, load_smoke

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

CHECKPOINT_ENV = "NEMOTRON_GPU_CHECKPOINT"
smoke = load_smoke()


def _checks_for(family) -> list[str]:
    checks = ["health", "chat"]
    if family.tool_parser:
        checks.append("tool_call")
    if family.reasoning_parser:
        checks += ["reasoning", "thinking_budget"]
    return checks


def test_real_checkpoint_passes_the_smoke_checks():
    path = os.environ.get(CHECKPOINT_ENV)
    if not path:
        pytest.skip(f"set {CHECKPOINT_ENV} to a local Nemotron checkpoint directory")
    from vllm_nemotron.serving.local_server import OpenAIServer
    from vllm_nemotron.serving.recipes import make_recipe, merge_args

    recipe = make_recipe(path)
    # A short context keeps the KV cache small enough for any single GPU.
    args = merge_args(recipe.args, ["--max-model-len", "8192"])
    with OpenAIServer(path, args, timeout=1800, served_model_name="nemotron") as server:
        failures = smoke.run_checks(server.client(timeout=600), server.model,
                                    _checks_for(recipe.family))
    assert {name: why for name, why in failures.items() if why} == {}


@pytest.fixture(scope="module")
def tiny_gpu_server(tmp_path_factory):
    from tests.harness.server import OpenAIServer
    from vllm_nemotron.tiny import build_nemotron_h

    model = build_nemotron_h(tmp_path_factory.mktemp("models") / "nemotron-h")
    args = ["--enable-auto-tool-choice", "--tool-call-parser", "llama_nemotron_json",
            "--reasoning-parser", "nano_v3", "--mamba-ssm-cache-dtype", "float32",
            "--logits-processors", "tests.harness.scripted:ScriptedOutput",
            "--gpu-memory-utilization", "0.2"]
    with OpenAIServer(model, args, timeout=600) as server:
        yield server


@pytest.mark.parametrize("check", sorted(SCRIPTS))
def test_tiny_checkpoint_on_cuda_passes_the_smoke_checks(tiny_gpu_server, check):
    import torch

    assert torch.cuda.is_available()
    client = ScriptedClient(tiny_gpu_server.client(), SCRIPTS[check])
    smoke.CHECKS[check](client, tiny_gpu_server.model)


def test_tiny_checkpoint_on_cuda_is_healthy(tiny_gpu_server):
    smoke.check_health(tiny_gpu_server.client(), tiny_gpu_server.model)
