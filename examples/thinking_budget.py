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

from openai import OpenAI


def two_calls(client, model, messages, budget, max_tokens):
    """Cut at the budget with a first completion, then continue after a closed thought."""
    start = time.perf_counter()
    first = client.chat.completions.create(model=model, messages=messages, max_tokens=budget)
    thought = first.choices[0].message.reasoning or first.choices[0].message.content or ""
    used = first.usage.completion_tokens
    if first.choices[0].finish_reason == "length":
        # Re-send everything with the thought closed, as the assistant's own continuation.
        second = client.chat.completions.create(
            model=model, max_tokens=max_tokens - used,
            messages=[*messages, {"role": "assistant", "content": f"<think>\n{thought}\n</think>\n\n"}],
            extra_body={"continue_final_message": True, "add_generation_prompt": False})
        used += second.usage.completion_tokens
        answer = second.choices[0].message.content
    else:
        answer = first.choices[0].message.content
    return answer, used, time.perf_counter() - start


def one_pass(client, model, messages, budget, max_tokens):
    start = time.perf_counter()
    reply = client.chat.completions.create(
        model=model, messages=messages, max_tokens=max_tokens,
        extra_body={"vllm_xargs": {"thinking_budget": budget}})
    return reply.choices[0].message.content, reply.usage.completion_tokens, time.perf_counter() - start


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
