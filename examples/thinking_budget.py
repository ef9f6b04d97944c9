"""Thinking budget: the two-call client vs the plugin's one-pass request, side by side.

Two calls (the vLLM blog's approach): ask with max_tokens=budget, cut the thought there, then
re-send the prompt plus the partial thought and "\\n</think>\\n\\n" so the model answers (a second
prefill of everything). One pass: the server's thinking-budget processor does the same cut,
finishing the line first, in a single request.

    python examples/thinking_budget.py --base-url http://localhost:8000/v1 --budget 64
"""

from __future__ import annotations

import argparse
import time

import httpx
from openai import OpenAI


def chat_prompt(client, model, messages) -> str:
    """The chat-templated prompt text, rendered by the server (vLLM's /tokenize, /detokenize)."""
    root = str(client.base_url).rstrip("/").removesuffix("/v1")
    tokens = httpx.post(f"{root}/tokenize", json={
        "model": model, "messages": messages, "add_generation_prompt": True}).json()["tokens"]
    reply = httpx.post(f"{root}/detokenize", json={"model": model, "tokens": tokens})
    return reply.json()["prompt"]


def two_calls(client, model, messages, budget, max_tokens):
    """Cut at the budget with a first completion, then re-send it with the thought closed."""
    start = time.perf_counter()
    prompt = chat_prompt(client, model, messages)
    first = client.completions.create(model=model, prompt=prompt, max_tokens=budget)
    thought, used = first.choices[0].text, first.usage.completion_tokens
    answer = thought
    if first.choices[0].finish_reason == "length" and "</think>" not in thought:
        second = client.completions.create(
            model=model, prompt=prompt + thought + "\n</think>\n\n", max_tokens=max_tokens - used)
        used += second.usage.completion_tokens
        answer = second.choices[0].text
    return answer, used, time.perf_counter() - start


def one_pass(client, model, messages, budget, max_tokens):
    start = time.perf_counter()
    reply = client.chat.completions.create(
        model=model, messages=messages, max_tokens=max_tokens,
        extra_body={"vllm_xargs": {"thinking_budget": budget}})
    answer = reply.choices[0].message.content or ""
    return answer.split("</think>")[-1], reply.usage.completion_tokens, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://localhost:8000/v1")
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--question", default="How many prime numbers are there below 50?")
    args = parser.parse_args()

    client = OpenAI(base_url=args.base_url, api_key="EMPTY")
    model = client.models.list().data[0].id
    messages = [{"role": "user", "content": args.question}]
    print(f"{'approach':<10} {'tokens':>7} {'seconds':>8}  answer")
    for name, run in [("two calls", two_calls), ("one pass", one_pass)]:
        answer, tokens, seconds = run(client, model, messages, args.budget, args.max_tokens)
        print(f"{name:<10} {tokens:>7} {seconds:>8.2f}  {(answer or '').strip()[:60]!r}")


if __name__ == "__main__":
    main()
