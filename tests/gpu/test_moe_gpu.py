"""Nemotron-3 MoE on CUDA: our `NemotronHForCausalLM` serves MoE, latent-MoE and MTP checkpoints
exactly as in-tree vLLM does, and as transformers computes them.

Tiny random checkpoints with Nemotron-3 Nano-30B-A3B's layout (Mamba/MoE pairs, attention,
shared + routed relu2 experts) and Super-120B-A12B's (latent MoE, one MTP layer group "*E"):

- our class and in-tree's (`VLLM_PLUGINS=""`), each in a process of its own, load the same
  parameters (names, shapes, dtypes, bytes) with the same activation per MLP, and decode the
  same greedy tokens, which are transformers' float32 tokens (computed on the CPU);
- MTP speculative decoding (vLLM's in-tree `NemotronHMTP` draft on our target, and on
  in-tree's) accepts drafts and keeps the greedy output token for token.

Everything runs in float32; vLLM's Triton kernels (MoE, Mamba, attention) compute float32
dot products as TF32 unless told otherwise, so the engines get TRITON_F32_DEFAULT=ieee. The
MoE kernel is pinned to Triton (`moe_backend="triton"`), which takes float32 and non-gated
relu2 experts. The CPU tests (tests/models/test_nemotron_h_moe.py) cover the rest: these
checkpoints, the classes vLLM resolves, and transformers' margins.
"""

from __future__ import annotations

import pytest

from tests.gpu.decode import decode as decode_in_process
from tests.models.engine import transformers_greedy
from tests.models.nemotron3 import build_nemotron3_checkpoints

pytestmark = [pytest.mark.gpu, pytest.mark.slow]

OURS = "vllm_nemotron.models.nemotron_h:NemotronHForCausalLM"
IN_TREE = "vllm.model_executor.models.nemotron_h:NemotronHForCausalLM"
# Prefix caching off: Mamba prefix caching with MTP fails at start-up (vLLM #39809).
ENGINE = {"gpu_memory_utilization": 0.3, "moe_backend": "triton", "enable_prefix_caching": False}
MTP = {"method": "mtp", "num_speculative_tokens": 3}
MTP_TOKENS = 32


def decode(model, *, plugin: bool, max_tokens: int = 12, **engine) -> dict:
    return decode_in_process(model, plugin=plugin, max_tokens=max_tokens,
                             env={"TRITON_F32_DEFAULT": "ieee"}, **{**ENGINE, **engine})


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return build_nemotron3_checkpoints(tmp_path_factory.mktemp("nemotron3"))


@pytest.fixture(scope="module")
def runs(checkpoints):
    """Each engine once per module: (checkpoint, ours / in-tree)."""
    out = {}
    for name in ("nano", "super"):
        out[name, "ours"] = decode(checkpoints[name], plugin=True)
        out[name, "in-tree"] = decode(checkpoints[name], plugin=False)
    return out


@pytest.fixture(scope="module")
def mtp_runs(checkpoints):
    path = checkpoints["super-draftable"]
    return {
        "ours": decode(path, plugin=True, max_tokens=MTP_TOKENS, speculative_config=MTP),
        "in-tree": decode(path, plugin=False, max_tokens=MTP_TOKENS, speculative_config=MTP),
        # non-speculative greedy decoding, by transformers
        "expected": transformers_greedy(path, max_tokens=MTP_TOKENS)[0],
    }


@pytest.mark.parametrize("name", ["nano", "super"])
def test_each_engine_runs_its_own_class(runs, name):
    assert runs[name, "ours"]["model_class"] == OURS
    assert runs[name, "in-tree"]["model_class"] == IN_TREE


@pytest.mark.parametrize("name", ["nano", "super"])
def test_our_class_loads_the_same_parameters_and_activations_as_in_tree(runs, name):
    ours, in_tree = runs[name, "ours"], runs[name, "in-tree"]
    assert ours["params"] == in_tree["params"]
    assert any(".experts." in p for p in ours["params"])
    assert any(".fc1_latent_proj." in p for p in ours["params"]) == (name == "super")
    assert ours["activations"] == in_tree["activations"]


@pytest.mark.parametrize("name", ["nano", "super"])
def test_our_class_decodes_as_in_tree_and_transformers(runs, checkpoints, name):
    expected, _ = transformers_greedy(checkpoints[name])
    assert runs[name, "ours"]["tokens"] == runs[name, "in-tree"]["tokens"]
    assert runs[name, "ours"]["tokens"] == expected


@pytest.mark.parametrize("engine", ["ours", "in-tree"])
def test_mtp_drafts_are_accepted_and_greedy_output_kept(mtp_runs, engine):
    run = mtp_runs[engine]
    assert run["tokens"] == mtp_runs["expected"]
    counters = run["spec_decode"]
    print(f"MTP on {engine}: {counters}")  # the figures to record (pytest -s)
    assert 0 < counters["accepted_tokens"] <= counters["draft_tokens"]


def test_mtp_on_our_target_drafts_as_on_in_trees(mtp_runs):
    assert mtp_runs["ours"]["model_class"] == OURS
    assert mtp_runs["ours"]["params"] == mtp_runs["in-tree"]["params"]
    assert mtp_runs["ours"]["spec_decode"] == mtp_runs["in-tree"]["spec_decode"]
