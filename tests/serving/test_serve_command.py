"""`vllm-nemotron serve` end to end: a tiny Nemotron-Mini (Nemotron-4) checkpoint served with
its family recipe, the `nemotron_mini` tool parser answering through the openai client; and
what serve says, before starting anything, for a checkpoint this machine cannot run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.harness.published_configs import NANO_30B, SUPER_120B
from tests.harness.server import OpenAIServer
from vllm_nemotron.tiny import build_nemotron4

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]
CALL = '<toolcall> {"name": "get_weather", "arguments": {"city": "Paris"}} </toolcall>'


class ServeCommand(OpenAIServer):
    """The harness server, started through `vllm-nemotron serve` instead of vLLM directly."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "vllm_nemotron", "serve", self.model_dir,
                "--served-model-name", self.model, "--host", self.host, "--port", str(self.port),
                *self.args]


@pytest.fixture(scope="module")
def mini_server(tmp_path_factory):
    model_dir = build_nemotron4(tmp_path_factory.mktemp("mini") / "nemotron-mini")
    scripted = ["--logits-processors", "tests.harness.scripted:ScriptedOutput"]
    with ServeCommand(model_dir, scripted) as server:
        yield server


def chat(server, script: str, **kwargs):
    return server.client().chat.completions.create(
        model=server.model, messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS, max_tokens=64, extra_body={"vllm_xargs": {"script": script}}, **kwargs)


@pytest.mark.slow
def test_serve_uses_the_family_recipe(mini_server):
    log = mini_server.log_tail(20000)
    assert "nemotron-mini" in log
    assert "--tool-call-parser nemotron_mini" in log
    # The tiny checkpoint ships a template with tool turns: the recipe keeps it.
    assert "chat template: the checkpoint's own" in log and "supports tools" in log


@pytest.mark.slow
def test_tool_call_parsed(mini_server):
    message = chat(mini_server, CALL).choices[0].message
    assert not message.content
    (call,) = message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


@pytest.mark.slow
def test_tool_call_streamed(mini_server):
    names, arguments, content, finish = [], "", "", None
    for chunk in chat(mini_server, CALL, stream=True):
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for call in delta.tool_calls or []:
            if call.function.name:
                names.append(call.function.name)
            arguments += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert names == ["get_weather"]
    assert json.loads(arguments) == {"city": "Paris"}
    assert not content.strip()
    assert finish == "tool_calls"


@pytest.mark.slow
@pytest.mark.parametrize("text", [
    "Sunny, 21 C.",
    '<toolcall> {"name": get_weather broken} </toolcall>',
    "<toolcall> not json at all",
])
def test_plain_or_malformed_output_is_content(mini_server, text):
    choice = chat(mini_server, text).choices[0]
    assert choice.message.content == text
    assert not choice.message.tool_calls
    assert mini_server.healthy()


def _serve(*argv: str, cache) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "vllm_nemotron", "serve", *argv],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("config,argv,code,words", [
    # vLLM's CPU build has no kernel for non-gated relu² experts: refused with the reason.
    (NANO_30B, [], 3, "needs a GPU: nemotron-3-nano-30b has MoE layers"),
    (SUPER_120B, ["--mtp", "--expert-parallel"], 3, "needs a GPU: nemotron-3-super"),
    (NANO_30B, ["--mtp"], 2, "has no MTP layer"),  # Nano-30B-A3B has no MTP head
])
def test_serve_refuses_what_this_machine_cannot_run(tmp_path, config, argv, code, words):
    model = tmp_path / "checkpoint"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(config))
    proc = _serve(str(model), *argv, cache=tmp_path / "hf-cache")
    assert proc.returncode == code, proc.stderr[-2000:]
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert "# running:" not in proc.stderr  # no server was started
