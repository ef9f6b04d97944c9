"""Every example script, run against the CPU server (tiny model) and its output checked.

The tiny random model is made to say chosen texts with the scripted-output processor; the
examples pass them through with their `--extra-body` testing aid. The server's template opens
`<think>` in the prompt, so a scripted reply is "<reasoning></think><answer>".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CALL = '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</TOOLCALL>'
# tool_choice required/named: the grammar is vLLM's call-list JSON (no <TOOLCALL> block).
FORCED_CALL = '[{"name": "get_weather", "parameters": {"city": "Paris"}}]'
NO_THINKING = {"chat_template_kwargs": {"enable_thinking": False}}

pytestmark = pytest.mark.slow


def script(text: str, **body) -> dict:
    return {**body, "vllm_xargs": {"script": text}}


def run_example(server, name: str, *bodies: dict, args: tuple[str, ...] = ()) -> list[str]:
    command = [sys.executable, str(EXAMPLES / name), "--base-url", server.base_url,
               "--model", server.model, *args]
    for body in bodies:
        command += ["--extra-body", json.dumps(body)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr + server.log_tail()
    return proc.stdout.splitlines()


def test_chat(plugin_server):
    out = run_example(plugin_server, "chat.py", script("Calm.</think>Hello from the sea."))
    assert out == ["chat: Hello from the sea.", "chat finish_reason: stop",
                   "stream: Hello from the sea."] + [out[3]]
    assert out[3].startswith("stream finish_reason: stop (")


def test_tools_auto_required_named_and_round_trip(plugin_server):
    out = run_example(
        plugin_server, "tools.py",
        script("I need the weather.</think>" + CALL),  # auto
        script(FORCED_CALL, **NO_THINKING),  # required
        script(FORCED_CALL, **NO_THINKING),  # named
        script("Call it.</think>" + CALL),  # round trip: the call
        script("Got it.</think>It is 21 C and clear in Paris."),  # round trip: the answer
    )
    assert out[0] == 'auto: get_weather({"city": "Paris"})'
    assert out[1] == 'required: get_weather({"city": "Paris"})'
    assert out[2] == 'named: get_weather({"city": "Paris"})'
    assert out[3] == ('round trip: get_weather({"city": "Paris"}) -> '
                      '{"city": "Paris", "temperature_c": 21, "sky": "clear"}')
    assert out[4] == "round trip answer: It is 21 C and clear in Paris."
    assert out[5] == "round trip finish_reason: stop"


def test_reasoning_on_and_off(plugin_server):
    out = run_example(plugin_server, "reasoning.py",
                      script("97 has no divisor up to 9.</think>Yes, 97 is prime."),
                      script("Yes, 97 is prime."),
                      script("97 has no divisor up to 9.</think>Yes, 97 is prime."))
    assert out == [
        "thinking on: reasoning: '97 has no divisor up to 9.'",
        "thinking on: content: 'Yes, 97 is prime.'",
        "thinking off: reasoning: None",
        "thinking off: content: 'Yes, 97 is prime.'",
        "streamed: reasoning: '97 has no divisor up to 9.'",
        "streamed: content: 'Yes, 97 is prime.'",
    ]


def test_reasoning_effort(plugin_server, tiny_hybrid):
    """`reasoning_effort` through the plain SDK; usage counts the tokens before `</think>`."""
    from transformers import AutoTokenizer

    thought, answer = "97 has no divisor up to 9.", "Yes, 97 is prime."
    tokenizer = AutoTokenizer.from_pretrained(tiny_hybrid)
    ids = tokenizer.encode(f"{thought}</think>{answer}", add_special_tokens=False)
    before_end = ids.index(tokenizer.convert_tokens_to_ids("</think>"))
    thinking = script(f"{thought}</think>{answer}")
    out = run_example(plugin_server, "reasoning_effort.py", script(answer), thinking, thinking,
                      thinking, args=("--efforts", "none,low,high", "--max-tokens", "64"))
    assert out == [
        f"none: reasoning_tokens=0 answer='{answer}'",
        f"low: reasoning_tokens={before_end} answer='{answer}'",
        f"high: reasoning_tokens={before_end} answer='{answer}'",
        f"streamed low: reasoning_tokens={before_end} answer='{answer}'",
    ]


def test_async_many(plugin_server):
    out = run_example(plugin_server, "async_many.py", script("Hi.</think>Hello!"),
                      args=("--requests", "16"))
    assert sorted(out[:-1]) == sorted(
        f"request {i}: finish_reason=stop text='Hello!'" for i in range(16))
    assert out[-1].startswith("16/16 requests ok")


def test_anthropic_messages(plugin_server):
    """The official `anthropic` SDK on vLLM's /v1/messages: budget, effort, thinking off,
    streamed (the knobs' budgets themselves: tests/thinking_budget/test_knobs_server.py)."""
    thinking = script("97 has no divisor up to 9.</think>Yes, 97 is prime.")
    out = run_example(plugin_server, "anthropic_messages.py", thinking, thinking,
                      script("Yes, 97 is prime."), thinking, args=("--max-tokens", "2048"))
    thought = "thinking: '97 has no divisor up to 9.'"
    answer = "text: 'Yes, 97 is prime.'"

    def reply(label: str, *blocks: str) -> list[str]:
        return [f"{label}: {block}" for block in (*blocks, "stop_reason: end_turn")]

    assert out == [*reply("budget_tokens", thought, answer), *reply("effort low", thought, answer),
                   *reply("thinking disabled", answer), *reply("streamed", thought, answer)]
