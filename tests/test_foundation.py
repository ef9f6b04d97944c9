"""The plugin as vLLM sees it: entry point, registration in every process, CLI, doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import vllm_nemotron as plugin

PY = sys.executable


def run_python(code: str, timeout: float = 300) -> str:
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"})
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout


def test_import_is_light_and_register_is_lazy_and_idempotent():
    code = """
import json, sys
import vllm_nemotron
heavy = [m for m in ("torch", "vllm", "transformers") if m in sys.modules]
from vllm.plugins import load_general_plugins
load_general_plugins()
vllm_nemotron.register()  # a second call must be harmless
from vllm import ModelRegistry
from vllm.reasoning import ReasoningParserManager
from vllm.tool_parsers import ToolParserManager
loaded = [m for m in sys.modules if m.startswith(("vllm_nemotron.models", "vllm_nemotron.parsers"))]
print(json.dumps({
    "heavy_on_import": heavy,
    "registered": vllm_nemotron._registered,
    "models": {a: str(ModelRegistry.models[a]) for a in vllm_nemotron.MODEL_CLASSES},
    "tool": {n: ToolParserManager.lazy_parsers.get(n) for n in vllm_nemotron.TOOL_PARSERS},
    "reasoning": {n: ReasoningParserManager.lazy_parsers.get(n)
                  for n in vllm_nemotron.REASONING_PARSERS},
    "eagerly_loaded": loaded,
}))
"""
    state = json.loads(run_python(code).strip().splitlines()[-1])
    assert state["heavy_on_import"] == []
    assert state["registered"] is True
    for arch, target in plugin.MODEL_CLASSES.items():
        assert target.split(":")[0] in state["models"][arch]
    for kind, table in (("tool", plugin.TOOL_PARSERS), ("reasoning", plugin.REASONING_PARSERS)):
        for name, target in table.items():
            assert ":".join(state[kind][name]) == target
    assert state["eagerly_loaded"] == []


def test_register_is_safe_without_vllm_plugins_env(monkeypatch):
    """VLLM_PLUGINS naming another plugin: ours stays out, nothing breaks."""
    monkeypatch.setenv("VLLM_PLUGINS", "someone_else")
    script = ("from vllm.plugins import load_general_plugins; load_general_plugins(); "
              "import vllm_nemotron; print(vllm_nemotron._registered)")
    out = subprocess.run([PY, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("False")


@pytest.mark.parametrize("argv, code, text", [
    ([], 2, "usage: vllm-nemotron"),
    (["--help"], 0, "doctor"),
    (["frobnicate"], 2, "unknown command 'frobnicate'"),
])
def test_cli_dispatch(argv, code, text, capsys):
    from vllm_nemotron.cli import main

    assert main(argv) == code
    captured = capsys.readouterr()
    assert text in captured.out + captured.err


def test_doctor_reports_every_piece_loading():
    out = subprocess.run([os.path.join(os.path.dirname(PY), "vllm-nemotron"), "doctor"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    assert "vllm-cpu 0.32.0" in out.stdout or "vLLM          vllm " in out.stdout
    ok_lines = [line for line in out.stdout.splitlines() if line.startswith("ok  ")]
    for name in [*plugin.MODEL_CLASSES, *plugin.TOOL_PARSERS, *plugin.REASONING_PARSERS,
                 "thinking_budget", "entry point", "chat templates"]:
        assert any(f" {name} " in line or line.split()[1:3] == name.split()
                   for line in ok_lines), name
    assert "FAIL" not in out.stdout


def _worker_state(worker) -> dict:
    """Runs inside a vLLM worker process: did the plugin register there, which class runs?"""
    import os

    import vllm_nemotron

    model = worker.model_runner.model
    return {"pid": os.getpid(), "registered": vllm_nemotron._registered,
            "model_class": f"{type(model).__module__}:{type(model).__name__}"}


def _find(tokens: list[int], pattern: list[int]) -> int | None:
    return next((i for i in range(len(tokens)) if tokens[i:i + len(pattern)] == pattern), None)


def _offline_thoughts(llm, sampling_params) -> tuple[dict[str, list[int]], list[int]]:
    """Output ids of a thinking prompt at max_tokens 64, by answer reserve; the end sequence."""
    from vllm_nemotron.thinking_budget.markers import END_TEXT, TOOL_STARTS

    tokenizer = llm.get_tokenizer()
    end_ids = tokenizer.encode(END_TEXT, add_special_tokens=False)
    barred = {tokenizer.convert_tokens_to_ids("</think>"), tokenizer.eos_token_id,
              *(tokenizer.encode(t, add_special_tokens=False)[0] for t in TOOL_STARTS)}
    prompt = {"prompt_token_ids": tokenizer.encode("Why is the sky blue?<think>\n",
                                                   add_special_tokens=False)}
    cases = {"default": None, "reserve 20": 20, "off": 0}
    params = [sampling_params(max_tokens=64, temperature=0.0,
                              logit_bias={t: -100.0 for t in barred},
                              extra_args=None if r is None else {"answer_reserve": r})
              for r in cases.values()]
    outputs = llm.generate([prompt] * len(cases), params)
    return {name: list(o.outputs[0].token_ids) for name, o in zip(cases, outputs)}, end_ids


@pytest.mark.slow
def test_offline_llm_runs_plugin_in_engine_and_worker_processes(tiny_hybrid, monkeypatch,
                                                                answer_reserve_built_in):
    from vllm import LLM, SamplingParams

    # lets collective_rpc ship `_worker_state` (a function) to the worker
    monkeypatch.setenv("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")

    llm = LLM(str(tiny_hybrid), dtype="float32", max_model_len=1024, enforce_eager=True)
    try:
        outputs = llm.generate(["Hello there", "The capital of France is"],
                               SamplingParams(max_tokens=8, temperature=0.0))
        assert all(len(o.outputs[0].token_ids) == 8 for o in outputs)
        thoughts, end_ids = _offline_thoughts(llm, SamplingParams)
        (state,) = llm.collective_rpc(_worker_state)
    finally:
        del llm
    # The answer reserve offline (docs/answer-reserve.md), the random model barred from ending
    # its thought: at 64 tokens the default reserve (64) closes it at once; a reserve of 20
    # leaves the answer at least 20 tokens; the opt-out thinks to the limit, as before.
    assert thoughts["default"][:len(end_ids)] == end_ids
    close = _find(thoughts["reserve 20"], end_ids)
    assert close is not None and close <= 64 - 20 - len(end_ids)
    assert _find(thoughts["off"], end_ids) is None and len(thoughts["off"]) == 64
    assert state["pid"] != os.getpid()  # the worker is another process
    assert state["registered"] is True
    expected = plugin.MODEL_CLASSES.get("NemotronHForCausalLM")
    if expected:
        assert state["model_class"] == expected


@pytest.mark.slow
def test_plugin_server_answers_openai_client_streamed_and_not(plugin_server):
    """The session server (every plugin piece on) serves chat through the openai SDK."""
    client = plugin_server.client()
    text = 'Hello! {"city": "Paris"} costs 3 € — ok.'
    request = dict(model=plugin_server.model, max_tokens=64,
                   messages=[{"role": "user", "content": "Say hello."}],
                   extra_body={"vllm_xargs": {"script": text},
                               "chat_template_kwargs": {"enable_thinking": False}})
    reply = client.chat.completions.create(**request)
    assert reply.choices[0].message.content == text
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens > 0

    chunks = [c for c in client.chat.completions.create(stream=True, **request) if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert plugin_server.healthy()
