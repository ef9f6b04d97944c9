"""Speculative decoding on vLLM's V1 runner (the CPU build): what happens to a thinking budget.

The V1 runner builds no logits-processor plugin under speculative decoding (Model Runner V2 does,
see test_v2_adapter.py). Named with `--logits-processors`, vLLM refuses to start; loaded from the
entry point alone, our model class warns at load time, and the warning must be true. n-gram
drafting is the method the CPU build runs; the hybrid model cannot (the CPU build has no Mamba
state-copy kernel for drafts), so these servers run the DeciLM model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.harness.decilm import build_decilm
from tests.harness.server import REPO_ROOT, OpenAIServer
from tests.models.engine import IN_PROCESS

pytestmark = pytest.mark.slow

FQCN = "vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor"
NGRAM = ["--speculative-config", json.dumps(
    {"method": "ngram", "num_speculative_tokens": 3, "prompt_lookup_min": 1,
     "prompt_lookup_max": 3})]
# repetitive, so n-gram lookup finds drafts; it ends inside <think>, so a budget would apply
PROMPT = "the sky is blue the sky is blue the sky is <think>"
WARNING = "thinking_budget is NOT enforced on this server"


@pytest.fixture(scope="module")
def decilm(tmp_path_factory):
    return build_decilm(tmp_path_factory.mktemp("models") / "decilm")


def test_named_processor_is_refused_at_startup(decilm):
    """`--logits-processors` is the engine argument `logits_processors`: an engine given it
    with a speculative config refuses to start (one process, the engine in it, instead of a
    server's three)."""
    code = ("import json, sys\nfrom vllm import LLM\n"
            "LLM(sys.argv[1], dtype='float32', max_model_len=256, enforce_eager=True,\n"
            "    speculative_config=json.loads(sys.argv[2]), logits_processors=[sys.argv[3]])\n")
    proc = subprocess.run([sys.executable, "-c", code, str(decilm), NGRAM[1], FQCN],
                          env={**os.environ, **IN_PROCESS, "VLLM_CPU_KVCACHE_SPACE": "1"},
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "logits processors are not supported when speculative decoding is enabled" in (
        proc.stdout + proc.stderr), proc.stderr[-3000:]


def test_installed_processor_warns_and_the_warning_is_true(decilm):
    with OpenAIServer(decilm, NGRAM, stats=True) as server:
        def completion(xargs):
            body = {"model": server.model, "prompt": PROMPT, "max_tokens": 24, "temperature": 0,
                    "return_token_ids": True, "vllm_xargs": xargs}
            reply = httpx.post(server.url("/v1/completions"), json=body, timeout=120)
            assert reply.status_code == 200, reply.text
            return reply.json()["choices"][0]["token_ids"]

        budgeted = completion({"thinking_budget": 0})
        assert budgeted == completion({})  # served without a budget, as the warning says
        assert server.counter("vllm:spec_decode_num_draft_tokens") > 0  # drafting did run
        assert WARNING in server.log_path.read_text(errors="replace")
