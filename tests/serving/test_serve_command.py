"""`vllm-nemotron serve` end to end: a tiny Nemotron-Mini (Nemotron-4) checkpoint served with
its family recipe, the `nemotron_mini` tool parser answering through the openai client."""

from __future__ import annotations

import json
import sys

import pytest

from tests.harness.server import OpenAIServer
from vllm_nemotron.tiny import build_nemotron4

pytestmark = pytest.mark.slow

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


def test_serve_uses_the_family_recipe(mini_server):
    log = mini_server.log_tail(20000)
    assert "nemotron-mini" in log
    assert "--tool-call-parser nemotron_mini" in log
    # The tiny checkpoint ships a template with tool turns: the recipe keeps it.
    assert "chat template: the checkpoint's own" in log and "supports tools" in log


def test_tool_call_parsed(mini_server):
    message = chat(mini_server, CALL).choices[0].message
    assert not message.content
    (call,) = message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}


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
