"""Smoke checks against a running vllm-nemotron deployment, through the `openai` client.

    python3 deploy/smoke.py http://HOST:8000 [--api-key KEY] [--model NAME] [--only CHECK ...]

Checks: health (/health and /v1/models), chat, tool_call (a tool call parsed by the server's tool
parser), reasoning (<think> split into `reasoning` and `content`, no tag leaked) and
thinking_budget (the plugin's per-request budget caps the reasoning tokens). Thinking is switched
on with the `enable_thinking` chat-template kwarg, which every template shipped with the plugin
reads. Prints one line per check and exits non-zero when any fails. The GPU tests import these
functions, so a deployment and the test suite check the same things.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

THINK_TAGS = ("<think>", "</think>")

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


class CheckFailed(AssertionError):
    """A check saw the server answer, but not as a working deployment should."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def _thinking(on: bool) -> dict:
    return {"chat_template_kwargs": {"enable_thinking": on}}


def check_health(client, model: str) -> str:
    """/health answers 200 and /v1/models lists the served model."""
    import httpx

    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    status = httpx.get(f"{root}/health", timeout=10).status_code
    _expect(status == 200, f"GET {root}/health answered {status}")
    served = [m.id for m in client.models.list().data]
    _expect(model in served, f"model {model!r} not among the served models {served}")
    return f"/health 200, serving {served}"


def check_chat(client, model: str) -> str:
    """A plain chat request gets a finished, non-empty answer."""
    resp = client.chat.completions.create(
        model=model, max_tokens=64, temperature=0,
        messages=[{"role": "user", "content": "Say hello in one short sentence."}],
        extra_body=_thinking(False))
    choice = resp.choices[0]
    text = (choice.message.content or "").strip()
    _expect(bool(text), f"empty answer (finish_reason={choice.finish_reason})")
    _expect(not any(tag in text for tag in THINK_TAGS), f"think tag leaked into content: {text!r}")
    _expect(resp.usage is not None and resp.usage.completion_tokens > 0, "no usage reported")
    return f"{resp.usage.completion_tokens} tokens: {text[:60]!r}"


def check_tool_call(client, model: str) -> str:
    """The model calls the offered tool and the server's parser returns it as `tool_calls`."""
    resp = client.chat.completions.create(
        model=model, max_tokens=256, temperature=0, tools=[WEATHER_TOOL], tool_choice="auto",
        messages=[{"role": "user", "content": "What is the weather in Paris right now? "
                                              "Use the get_weather tool."}],
        extra_body=_thinking(False))
    choice = resp.choices[0]
    calls = choice.message.tool_calls or []
    _expect(bool(calls), f"no tool call parsed; content={choice.message.content!r}")
    call = calls[0]
    _expect(call.function.name == "get_weather", f"called {call.function.name!r}")
    try:
        arguments = json.loads(call.function.arguments)
    except ValueError as exc:
        raise CheckFailed(f"arguments are not JSON: {call.function.arguments!r}") from exc
    _expect(isinstance(arguments, dict) and "city" in arguments,
            f"arguments lack 'city': {arguments!r}")
    _expect(choice.finish_reason == "tool_calls", f"finish_reason={choice.finish_reason!r}")
    _expect("<TOOLCALL>" not in (choice.message.content or "").upper(),
            f"tool-call markup left in content: {choice.message.content!r}")
    return f"get_weather({call.function.arguments})"


def _reasoning_of(message) -> str:
    # vLLM >= 0.31 names the field `reasoning`; older servers said `reasoning_content`.
    return getattr(message, "reasoning", None) or getattr(message, "reasoning_content", None) or ""


def check_reasoning(client, model: str) -> str:
    """With thinking on, the reasoning and the answer come back split, tags in neither."""
    resp = client.chat.completions.create(
        model=model, max_tokens=2048, temperature=0,
        messages=[{"role": "user", "content": "What is 17 * 23? Answer with the number."}],
        extra_body=_thinking(True))
    message = resp.choices[0].message
    reasoning, content = _reasoning_of(message), message.content or ""
    _expect(bool(reasoning.strip()), f"no reasoning returned; content={content[:200]!r}")
    _expect(bool(content.strip()), f"no answer after the reasoning "
                                   f"(finish_reason={resp.choices[0].finish_reason})")
    for part, text in (("reasoning", reasoning), ("content", content)):
        _expect(not any(tag in text for tag in THINK_TAGS), f"think tag leaked into {part}")
    return f"{len(reasoning)} chars of reasoning, answer {content.strip()[:40]!r}"


def _reasoning_tokens(client, model: str, resp, reasoning: str) -> int:
    details = getattr(resp.usage, "completion_tokens_details", None)
    counted = getattr(details, "reasoning_tokens", None) if details else None
    if counted:
        return counted
    import httpx  # the server did not count them: ask its tokenizer

    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    reply = httpx.post(f"{root}/tokenize", timeout=30,
                       headers={"Authorization": f"Bearer {client.api_key}"},
                       json={"model": model, "prompt": reasoning, "add_special_tokens": False})
    reply.raise_for_status()
    return reply.json()["count"]


def check_thinking_budget(client, model: str, budget: int = 32, slack: int = 24) -> str:
    """A per-request thinking budget caps the reasoning and an answer still follows.

    `slack` covers the processor's grace tokens and the forced end-of-thinking sequence."""
    resp = client.chat.completions.create(
        model=model, max_tokens=1024, temperature=0,
        messages=[{"role": "user", "content": "Explain step by step why the sky is blue, "
                                              "then give a one-line answer."}],
        extra_body={**_thinking(True), "vllm_xargs": {"thinking_budget": budget}})
    message = resp.choices[0].message
    reasoning, content = _reasoning_of(message), message.content or ""
    used = _reasoning_tokens(client, model, resp, reasoning) if reasoning else 0
    _expect(used <= budget + slack,
            f"{used} reasoning tokens for a budget of {budget} (+{slack} allowed)")
    _expect(bool(content.strip()), f"no answer after the budgeted reasoning "
                                   f"(finish_reason={resp.choices[0].finish_reason})")
    return f"{used} reasoning tokens for budget {budget}"


CHECKS = {
    "health": check_health,
    "chat": check_chat,
    "tool_call": check_tool_call,
    "reasoning": check_reasoning,
    "thinking_budget": check_thinking_budget,
}


def run_checks(client, model: str, names=tuple(CHECKS), out=sys.stdout) -> dict[str, str | None]:
    """Run the named checks; returns name -> failure message (None when it passed)."""
    failures: dict[str, str | None] = {}
    for name in names:
        start = time.monotonic()
        try:
            detail, failures[name] = CHECKS[name](client, model), None
            status = "PASS"
        except Exception as exc:  # any error is a failed check, reported with its reason
            detail = failures[name] = f"{type(exc).__name__}: {exc}"
            status = "FAIL"
        print(f"{status}  {name:<16} {time.monotonic() - start:6.1f}s  {detail}", file=out,
              flush=True)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the deployment's URL, e.g. http://localhost:8000")
    parser.add_argument("--api-key", default=os.environ.get("VLLM_API_KEY", "EMPTY"),
                        help="the server's --api-key (default: $VLLM_API_KEY)")
    parser.add_argument("--model", help="served model name (default: the first one served)")
    parser.add_argument("--only", nargs="+", choices=list(CHECKS), default=list(CHECKS),
                        metavar="CHECK", help=f"checks to run, of {', '.join(CHECKS)}")
    parser.add_argument("--timeout", type=float, default=300.0, help="per request, seconds")
    args = parser.parse_args(argv)

    import openai

    base = args.base_url.rstrip("/")
    client = openai.OpenAI(base_url=base if base.endswith("/v1") else f"{base}/v1",
                           api_key=args.api_key, timeout=args.timeout, max_retries=0)
    try:
        model = args.model or client.models.list().data[0].id
    except Exception as exc:  # unreachable, wrong key, nothing served: say so plainly
        print(f"FAIL  cannot list models at {client.base_url}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 1
    print(f"# {client.base_url}  model {model}")
    failures = run_checks(client, model, args.only)
    failed = [name for name, why in failures.items() if why]
    print(f"{len(failures) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
